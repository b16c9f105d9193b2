// Package api is Zhiku's HTTP surface (gin): authentication, tenant scoping, routes and the
// one place where errors become HTTP statuses. Handlers bind, call and respond; storage and
// the ingestion, retrieval and closed-loop engines are reached through small interfaces
// declared here and wired in cmd/zhiku.
package api
