//! Timestamps and intervals: parsing and formatting.
