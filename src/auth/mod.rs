//! Signing in and who is signed in: password hashing, the typed session, the CurrentUser
//! extractor that reloads the user on every request; the client's address.
pub mod address;
pub mod current_user;
pub mod nav_counts;
pub mod password;
pub mod session;

pub use address::{client_address, TrustedProxies};
pub use current_user::CurrentUser;
pub use session::TypedSession;
