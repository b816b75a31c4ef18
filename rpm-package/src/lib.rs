//! rpm-package (being written).
