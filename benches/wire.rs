//! Micro-benchmarks of the sans-IO wire core: record reassembly, RPC call header decode and
//! reply header encode, AUTH_GLUSTERFS v2 credential decode.

use brickd::proto::auth::{
    decode_credential, encode_gluster_v2, AUTH_GLUSTERFS_V2, CLI_CREDENTIAL_V2,
};
use brickd::proto::record::{fragment_header, RecordDecoder, RECORD_BYTES_MAX_DEFAULT};
use brickd::proto::rpc::{
    decode_call, encode_call, encode_reply, CallHeader, OpaqueAuth, ReplyStatus,
};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn ping_call() -> Vec<u8> {
    let mut body = Vec::new();
    encode_call(
        &mut body,
        &CallHeader {
            xid: 2,
            prog: 123_451_501,
            vers: 1,
            proc_num: 2,
            cred: OpaqueAuth {
                flavor: AUTH_GLUSTERFS_V2,
                body: &CLI_CREDENTIAL_V2,
            },
            verf: OpaqueAuth::NULL,
        },
    );
    body
}

fn record_reassembly(c: &mut Criterion) {
    let call = ping_call();
    let mut group = c.benchmark_group("record");
    for per_read in [1usize, 16, 64] {
        let mut stream = Vec::new();
        for _ in 0..per_read {
            stream.extend_from_slice(&fragment_header(call.len()));
            stream.extend_from_slice(&call);
        }
        group.throughput(Throughput::Elements(per_read as u64));
        group.bench_with_input(
            BenchmarkId::new("one_fragment_records_per_read", per_read),
            &stream,
            |b, stream| {
                let mut dec = RecordDecoder::new(RECORD_BYTES_MAX_DEFAULT);
                b.iter(|| {
                    let mut pos = 0;
                    let mut n = 0;
                    while pos < stream.len() {
                        let (used, rec) = dec.decode(&stream[pos..]).unwrap();
                        pos += used;
                        n += rec.map_or(0, |r| r.len());
                    }
                    black_box(n)
                })
            },
        );
    }
    // A 64 KiB record in 16 fragments, delivered in 1,500-byte reads.
    let payload = vec![7u8; 64 << 10];
    let mut stream = Vec::new();
    for (i, piece) in payload.chunks(4096).enumerate() {
        let mut mark = piece.len() as u32;
        if i == 15 {
            mark |= 0x8000_0000;
        }
        stream.extend_from_slice(&mark.to_be_bytes());
        stream.extend_from_slice(piece);
    }
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("64KiB_in_16_fragments_1500B_reads", |b| {
        let mut dec = RecordDecoder::new(RECORD_BYTES_MAX_DEFAULT);
        b.iter(|| {
            let mut done = 0;
            for chunk in stream.chunks(1500) {
                let mut pos = 0;
                while pos < chunk.len() {
                    let (used, rec) = dec.decode(&chunk[pos..]).unwrap();
                    pos += used;
                    done += rec.map_or(0, |r| r.len());
                }
            }
            black_box(done)
        })
    });
    group.finish();
}

fn rpc_header(c: &mut Criterion) {
    let call = ping_call();
    c.bench_function("rpc/decode_call_header", |b| {
        b.iter(|| black_box(decode_call(black_box(&call)).unwrap()))
    });
    let mut out = Vec::with_capacity(128);
    c.bench_function("rpc/encode_reply_header", |b| {
        b.iter(|| {
            out.clear();
            encode_reply(
                &mut out,
                black_box(2),
                OpaqueAuth::NULL,
                ReplyStatus::Success,
            );
            black_box(out.len())
        })
    });
    c.bench_function("rpc/encode_call_header", |b| {
        let (hdr, _) = decode_call(&call).unwrap();
        b.iter(|| {
            out.clear();
            encode_call(&mut out, black_box(&hdr));
            black_box(out.len())
        })
    });
}

fn auth_v2(c: &mut Criterion) {
    c.bench_function("auth/v2_decode_cli_credential", |b| {
        b.iter(|| {
            black_box(decode_credential(AUTH_GLUSTERFS_V2, black_box(&CLI_CREDENTIAL_V2)).unwrap())
        })
    });
    let mut full = Vec::new();
    let groups: Vec<u32> = (0..32).collect();
    encode_gluster_v2(&mut full, 4242, 1000, 1000, &groups, Some(&[1; 24]));
    c.bench_function("auth/v2_decode_32_groups_24B_lk_owner", |b| {
        b.iter(|| black_box(decode_credential(AUTH_GLUSTERFS_V2, black_box(&full)).unwrap()))
    });
}

criterion_group!(benches, record_reassembly, rpc_header, auth_v2);
criterion_main!(benches);
