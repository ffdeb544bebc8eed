//! Relman: Release and Deployment Management as one binary.
//!
//! Layout: `domain` holds pure rules; `models` Diesel queries; `services` operations that span
//! tables in one transaction; `routes` thin actix handlers; `views` the page context shared by
//! templates. Errors: `error::AppError` is the only error a handler returns.
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod forms;
pub mod kept;
pub mod models;
pub mod paths;
pub mod routes;
pub mod schema;
pub mod services;
pub mod tools;
pub mod views;
