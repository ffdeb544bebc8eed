//! Tools run from the command line, not on the request path: the data generator (`seed`),
//! the demo data set (`demo`) and the private PostgreSQL cluster (`embedded_pg`).
pub mod demo;
pub mod embedded_pg;
pub mod seed;
