//! cdevents (work in progress)
