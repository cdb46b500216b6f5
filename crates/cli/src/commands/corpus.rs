//! `charrnn corpus`: a text file checked before training (size, vocabulary,
//! commonest characters, load speed).

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub(crate) struct CorpusArgs {
    /// A UTF-8 text file, a folder of them (every *.txt, recursively), or a
    /// token file written by `charrnn prepare`.
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn cmd_corpus(args: CorpusArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    if charrnn::tokens::is_token_file(&args.file) {
        let file = charrnn::tokens::TokenFile::open(&args.file)?;
        let header = file.header();
        let counts = char_counts(file.tokens(), file.vocab().len());
        let shape = (header.sources.len(), header.text.bytes);
        let work = "open, check the checksums, count; sizes are of the text it encodes";
        return describe_corpus(&args, shape, file.vocab(), &counts, (started, work));
    }
    let files = charrnn::corpus::files_of(&args.file)?;
    let corpus = charrnn::corpus::Corpus::load_documents(&files, "\n", None)?;
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;
    let counts = char_counts(corpus.ids().into(), corpus.vocab().len());
    describe_corpus(
        &args,
        (files.len(), bytes),
        corpus.vocab(),
        &counts,
        (started, "read, check UTF-8, build the vocabulary, encode"),
    )
}

/// How often each id occurs.
pub(crate) fn char_counts(ids: charrnn::corpus::Ids<'_>, vocab_size: usize) -> Vec<u64> {
    let mut counts = vec![0u64; vocab_size];
    for i in 0..ids.len() {
        counts[ids.get(i) as usize] += 1;
    }
    counts
}

/// Prints what `charrnn corpus` says of `files` files of `bytes` bytes, read
/// since `started` doing `work`.
pub(crate) fn describe_corpus(
    args: &CorpusArgs,
    (files, bytes): (usize, u64),
    vocab: &charrnn::corpus::Vocab,
    counts: &[u64],
    (started, work): (std::time::Instant, &str),
) -> anyhow::Result<()> {
    let secs = started.elapsed().as_secs_f64();
    let chars: u64 = counts.iter().sum();
    let mut commonest: Vec<(u64, char)> = counts
        .iter()
        .zip(vocab.chars())
        .map(|(&n, &c)| (n, c))
        .collect();
    commonest.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    commonest.truncate(10);
    let mb_per_sec = bytes as f64 / 1e6 / secs.max(1e-9);
    if args.json {
        let record = serde_json::json!({
            "file": &args.file,
            "files": files,
            "bytes": bytes,
            "chars": chars,
            "vocab": vocab.len(),
            "seconds": secs,
            "mb_per_sec": mb_per_sec,
            "commonest": commonest.iter().map(|(n, c)| (c.to_string(), n)).collect::<Vec<_>>(),
        });
        println!("{record}");
        return Ok(());
    }
    println!("file         {}", args.file.display());
    if files > 1 || args.file.is_dir() {
        println!("files        {files} (*.txt, joined by newlines)");
    }
    println!(
        "size         {:.1} MB, {} characters",
        bytes as f64 / 1e6,
        chars
    );
    println!("vocabulary   {} distinct characters", vocab.len());
    let shown: Vec<String> = commonest
        .iter()
        .map(|(n, c)| format!("{c:?} {:.1}%", 100.0 * *n as f64 / chars.max(1) as f64))
        .collect();
    println!("commonest    {}", shown.join(", "));
    println!("loaded in    {secs:.3} s ({mb_per_sec:.0} MB/s: {work})");
    Ok(())
}
