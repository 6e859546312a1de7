//! A simulated Coupa tenant served over real HTTP.
//!
//! The simulator is a second, independent implementation of the Coupa wire protocol: its JSON is
//! built from its own tenant model (users, user groups, roles, licenses, account groups, content
//! groups), served by wiremock responders with Coupa's paging, projection, scopes, rate limits and
//! injectable faults. Tests, demos and benchmarks use it instead of a real tenant.
//!
//! The crate is being built up; its public surface is empty for now.
