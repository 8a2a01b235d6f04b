//! Arbitrary bytes into the reading path: `read_answer` (parse, elaborate, shapes) and,
//! for what reads, `simplify` (the e-graph) and every printer. An `Err` is a fine
//! answer; a panic, an abort or a hang is a finding.

#![no_main]

use bracket::Format;
use libfuzzer_sys::fuzz_target;

/// Inputs longer than this are skipped: the input-size limit is tested elsewhere
/// (tests/bad_inputs_cli.rs), and short inputs keep each run fast.
const MAX_LEN: usize = 4096;

const FORMATS: [Format; 5] = [Format::Unicode, Format::Ascii, Format::Latex, Format::Bracket, Format::Numpy];

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_LEN {
        return;
    }
    // Invalid UTF-8 is replaced, so every input reaches the parser.
    let text = String::from_utf8_lossy(data);
    let Ok(read) = bracket::read_answer(&text) else { return };
    for format in FORMATS {
        let _ = read.render(format);
    }
    if let Ok(simple) = bracket::simplify(&text) {
        for format in FORMATS {
            let _ = simple.render(format);
        }
        let _ = simple.json();
    }
});
