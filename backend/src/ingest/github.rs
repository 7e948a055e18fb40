//! github (work in progress)
