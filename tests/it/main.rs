//! Relman's integration tests: one binary whose modules are the test files (it links once).
//! Every test starts the real server on a free port with its own database, and talks to it
//! over HTTP with a cookie-carrying client.
mod support;

mod accounts;
mod admin;
mod approvals;
mod authz;
mod bypass;
mod calendar;
mod changes;
mod concurrency;
mod demo;
mod faults;
mod fuzz;
mod hardening;
mod history;
mod knowledge;
mod models_admin;
mod notifications;
mod page_quality;
mod page_quality_extra;
mod perf;
mod releases;
mod reports;
mod scale_out;
mod submissions;
mod tasks;
mod ui_flow;
mod workflow_admin;
