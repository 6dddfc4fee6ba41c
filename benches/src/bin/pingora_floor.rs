//! The floor: the least a pingora 0.9.1 proxy does for wharf's bench route. One listener, one
//! Host check, one upstream, no middleware, pingora's defaults (one worker thread per core
//! the process may run on, as wharf). What wharf costs above this is what wharf adds.
//!
//!   pingora_floor <listen addr> <backend addr> <host>

use async_trait::async_trait;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

struct Floor {
    backend: String,
    host: String,
}

#[async_trait]
impl ProxyHttp for Floor {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut ()) -> Result<bool> {
        let host = session.req_header().headers.get(http::header::HOST);
        if host.is_some_and(|h| h.as_bytes() == self.host.as_bytes()) {
            return Ok(false);
        }
        let mut answer = ResponseHeader::build(404, Some(1))?;
        answer.insert_header(http::header::CONTENT_LENGTH, "0")?;
        session
            .write_response_header(Box::new(answer), true)
            .await?;
        Ok(true)
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.backend.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: pingora_floor <listen addr> <backend addr> <host>");
        std::process::exit(2);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // As wharf runs it: no work stealing on one thread.
    let conf = ServerConf {
        threads,
        work_stealing: threads > 1,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(
        &server.configuration,
        Floor {
            backend: args[2].clone(),
            host: args[3].clone(),
        },
    );
    proxy.add_tcp(&args[1]);
    server.add_service(proxy);
    server.run_forever();
}
