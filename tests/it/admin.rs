//! Administration: users and groups (being written).
