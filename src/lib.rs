//! The INSA platform demo crate.
