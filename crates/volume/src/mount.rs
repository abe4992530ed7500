//! Mount placeholder
