//! jenkins (work in progress)
