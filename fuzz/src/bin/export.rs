//! Turns the fuzz corpora and crash inputs (fuzzer bytes) into the inputs they stand for and
//! packs them into `tests/fixtures/fuzz/<target>.bin` (u32 little-endian length + bytes), which
//! the library's tests replay natively and on wasm32 without the generator. Generation is not
//! byte-for-byte reproducible across processes (yrs encodes some maps in hash order), so the
//! packs, not the corpora, are what the tests replay.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use ysync::core::untrusted::Target;

fn main() {
    // `export <target> <file>`: print the input a fuzzer file stands for, in hex.
    let args: Vec<String> = std::env::args().collect();
    if let [_, name, file] = &args[..] {
        let (target, _) = Target::ALL
            .into_iter()
            .find(|(_, n)| n == name)
            .expect("unknown target");
        let data = fs::read(file).expect("read input");
        let bytes = ysync_fuzz::generate(target, &data);
        println!("{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("../tests/fixtures/fuzz");
    fs::create_dir_all(&out_dir).expect("create tests/fixtures/fuzz");
    for (target, name) in Target::ALL {
        let mut inputs = BTreeSet::new();
        for dir in ["corpus", "artifacts"] {
            let Ok(entries) = fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for e in entries.flatten() {
                if let Ok(data) = fs::read(e.path()) {
                    inputs.insert(ysync_fuzz::generate(target, &data));
                }
            }
        }
        let mut packed = Vec::new();
        for i in &inputs {
            packed.extend((i.len() as u32).to_le_bytes());
            packed.extend(i);
        }
        fs::write(out_dir.join(format!("{name}.bin")), &packed).expect("write pack");
        println!("{name}: {} inputs, {} bytes", inputs.len(), packed.len());
    }
}
