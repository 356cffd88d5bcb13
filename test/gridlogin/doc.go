// Package gridlogin is a stand-in for an OpenSim-style grid login service,
// used by `understudy-coordinator dev` and by tests.
//
// It answers the two calls a viewer makes to a grid's login URI: GET
// /get_grid_info (an XML document describing the grid) and the XML-RPC
// method login_to_simulator (POST). Accounts are read from accounts.json in
// the service's data directory at every login, so a login on a standby only
// succeeds if mirroring carried the account there. POST /accounts (JSON
// first, last, password) adds an account and answers 201 once it is on
// disk, so tests can count acknowledged writes.
package gridlogin
