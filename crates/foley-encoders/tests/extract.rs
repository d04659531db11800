//! `foley extract`'s library side on real clips: shard layout, shapes, silent videos, text,
//! resumability and work splitting.

mod common;

use std::path::Path;

use common::cache;
use foley_encoders::extract::{ExtractOptions, Extractor, ItemRecord, ShardSpec, is_complete, items_from_manifest, plan};
use foley_encoders::sync::{SyncConfig, SyncModel};
use foley_seq::SequenceConfig;
use safetensors::SafeTensors;

fn videos() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/videos")
}

fn options(shard: ShardSpec) -> ExtractOptions {
    ExtractOptions { max_duration: 1.0, sequence: SequenceConfig::mmaudio_16k, items_per_shard: 1, shard, batch: 8 }
}

#[test]
fn writes_resumable_shards() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("clips.csv");
    let v = videos();
    std::fs::write(
        &manifest,
        format!(
            "file,caption\n{},\n\"{}\",\"a tennis match, ball hits\"\n",
            v.join("marl_openl3__tests__data__video__bento.mp4").display(),
            v.join("XYPB_CondFoleyGen__data__demo_video__tennis.mp4").display()
        ),
    )
    .unwrap();
    let items = items_from_manifest(&manifest).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].text.as_deref(), Some("a tennis match, ball hits"));

    let out = dir.path().join("features");
    let opts = options("0/1".parse().unwrap());
    let chunks = plan(&items, &out, &opts);
    assert_eq!(chunks.len(), 2);
    assert!(chunks.iter().all(|c| !is_complete(c)));

    // An (untrained) sync backbone saved and reloaded the way `--sync-model` does.
    let sync_path = dir.path().join("sync.safetensors");
    SyncModel::new(&SyncConfig::default(), &burn::prelude::Device::flex()).save(&SyncConfig::default(), &sync_path).unwrap();
    let extractor = Extractor::from_cache(&cache()).unwrap().with_sync_model(&sync_path).unwrap();
    let mut seen = 0;
    for chunk in &chunks {
        extractor.write_chunk(chunk, &opts, &mut |_| seen += 1).unwrap();
    }
    assert_eq!(seen, 2);
    assert!(chunks.iter().all(is_complete), "a rerun skips finished chunks");

    let seq = SequenceConfig::mmaudio_16k(1.0);
    // Bento: has audio, no text.
    let bytes = std::fs::read(&chunks[0].path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("0.semantic").unwrap().shape(), [seq.clip_seq_len(), 1280]);
    assert_eq!(st.tensor("0.mel").unwrap().shape(), [80, seq.mel.num_frames(seq.num_audio_samples())]);
    assert!(st.tensor("0.text_tokens").is_err());
    assert_eq!(st.tensor("0.sync").unwrap().shape(), [seq.sync_seq_len(), SyncConfig::default().dim]);
    assert_eq!(seq.sync_seq_len(), 16);
    // Tennis: no audio stream, a caption.
    let bytes = std::fs::read(&chunks[1].path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert!(st.tensor("0.mel").is_err());
    assert_eq!(st.tensor("0.text_embedding").unwrap().shape(), [384]);
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let records: Vec<ItemRecord> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["items"]).unwrap();
    assert_eq!((records[0].has_audio, records[0].semantic_frames, records[0].duration), (false, 8, 1.0));
}

#[test]
fn shards_split_the_items_and_bad_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.csv");
    std::fs::write(&manifest, "path,text\na.mp4,x\nb.mp4,\nc.mp4,\nmissing.mp4,\n").unwrap();
    let items = items_from_manifest(&manifest).unwrap();
    let first = plan(&items, dir.path(), &options("0/2".parse().unwrap()));
    let second = plan(&items, dir.path(), &options("1/2".parse().unwrap()));
    let ids = |chunks: &[foley_encoders::extract::Chunk]| chunks.iter().flat_map(|c| c.items.iter().map(|i| i.id.clone())).collect::<Vec<_>>();
    assert_eq!(ids(&first), ["a", "c"]);
    assert_eq!(ids(&second), ["b", "missing"]);
    assert!("2/2".parse::<ShardSpec>().is_err() && "x".parse::<ShardSpec>().is_err());

    let extractor = Extractor::from_cache(&cache()).unwrap();
    let err = extractor.write_chunk(&second[1], &options("1/2".parse().unwrap()), &mut |_| {}).unwrap_err();
    assert!(format!("{err:#}").contains("missing.mp4"), "{err:#}");
    assert!(!second[1].path.exists(), "no partial shard");
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
}
