//! gitlab (work in progress)
