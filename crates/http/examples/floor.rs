//! The cost floor of the HTTP layer alone, for `docs/performance.md`.
//!
//! A current-thread tokio runtime with hyper's HTTP/1 server, as one frontend of the real
//! server uses, answering every POST with a fixed JSON body. The body of the request is read
//! in full first. `--work-us N` adds N µs of busy work per request, which stands in for the
//! database's own work so that the kernel's share can be seen at a realistic request rate.
//!
//! ```text
//! cargo run --release -p amelie-http --example floor -- --port 3997 --work-us 10 &
//! cargo xtask bench load --workload select --uri http://127.0.0.1:3997 --pid $!
//! ```
//!
//! The `select` workload of `bench load` reads its set-up replies only loosely, so it runs
//! against this server unchanged; `cpu_us_per_tx` is then what HTTP over loopback costs.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!("usage: floor [--port P] [--work-us N]");
    std::process::exit(2)
}

fn main() {
    let mut port: u16 = 3997;
    let mut work = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = v.parse().unwrap_or_else(|_| usage()),
            "--work-us" => work = Duration::from_micros(v.parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| {
                eprintln!("floor: 127.0.0.1:{port}: {e}");
                std::process::exit(1)
            });
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        let start = Instant::now();
                        while start.elapsed() < work {
                            std::hint::spin_loop();
                        }
                        let reply = if body.starts_with(b"select count") {
                            Bytes::from_static(b"[100000]")
                        } else {
                            Bytes::from_static(b"[[1, 2, 3]]")
                        };
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(reply)))
                    },
                );
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
