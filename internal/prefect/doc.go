// Package prefect is the Prefect REST client of prefect-apply. It owns
// everything that talks to a Prefect API: resolving where the API is and how
// to authenticate (flag, environment, file, Prefect profile), the HTTP
// transport with timeouts, bounded bodies, retries of repeatable calls and
// request counting, the server's error shapes, and the calls on work pools,
// work queues and variables. ReadState turns the live pools and queues into
// a state.State for the planner; nothing else in this package knows about
// plans.
//
// Credentials are held in Secret values that print and marshal as
// "[redacted]"; errors name the setting a credential came from, never its
// value.
package prefect
