//! Server library: config, repository, bootstrap, recovery and wiring.
pub mod cli {
    pub fn main(_args: Vec<String>) -> i32 {
        0
    }
}
