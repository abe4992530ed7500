//! `GET /images/get?names=`, `GET /images/{name}/get` (save: a
//! docker-archive tar, written as it is made) and `POST /images/load`
//! (the body's archive, `Loaded image:` lines), over the engine's
//! `save_images` and `load_images`.

use std::io::Write;

use berth_engine::image::ArchiveFormat;
use hyper::body::Incoming;
use hyper::Request;

use super::stream::{self, SinkWriter};
use crate::reply::{ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// Save of `names` (`docker save`).
pub async fn save(server: &Server, names: Vec<String>) -> ApiResult {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    stream::respond(server, "application/x-tar", move |e, sink| {
        let mut out = std::io::BufWriter::with_capacity(64 << 10, SinkWriter(sink.clone()));
        e.save_images(&names, ArchiveFormat::DockerArchive, &mut out)?;
        out.flush()
            .map_err(|err| ApiError::new(hyper::StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))
    })
    .await
}

/// `POST /images/load?quiet=`: `{"stream":"Loaded image: x\n"}` per tag
/// (`Loaded image ID:` for an untagged image), quiet or not (`quiet`
/// only silences dockerd's progress bars, which berth does not draw).
pub async fn load(server: &Server, req: Request<Incoming>, q: &Query) -> ApiResult {
    let _ = q.bool("quiet");
    let mut body = stream::spool_body(req).await?;
    if stream::is_empty(&mut body)? {
        return Err(ApiError::bad_request(
            "requested load from stdin, but stdin is empty",
        ));
    }
    stream::respond(server, "application/json", move |e, sink| {
        let loaded = e.load_images(std::io::BufReader::new(body))?;
        for l in loaded {
            if l.tags.is_empty() {
                sink.stream(&format!("Loaded image ID: {}\n", l.id));
            }
            for t in l.tags {
                sink.stream(&format!("Loaded image: {}\n", t.familiar()));
            }
        }
        Ok(())
    })
    .await
}
