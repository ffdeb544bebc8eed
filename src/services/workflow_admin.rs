//! Workflow administration: drafts, phases, field rules, transitions, validation (being written).
