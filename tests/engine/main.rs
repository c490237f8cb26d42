//! Engine integration tests, built into one binary:
//!
//! - `import_errors`: the malformed-input corpus; each file gives its precise error and
//!   stores nothing.
//! - `import_ok`: inputs that must import (BOM, CRLF, delimiters, JSONL layouts, …).
//! - `round_trip`: export → import gives the same dataset; splits persist.
//! - `hostile`: the adversarial drill's inputs (huge headers, pipes, encodings, names…).
//! - `fuzz`: random and mutated files never panic or hang, and a failed import stores nothing.

mod fuzz;
mod hostile;
mod import_errors;
mod import_ok;
mod round_trip;
mod util;
