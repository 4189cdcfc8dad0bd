//! Loading the generated data blob and building the lookup tables.

use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;

use serde::Deserialize;

use crate::rules::RuleSet;
use crate::LoadError;

/// A fast, non-keyed hasher (FxHash). The tables are built once from the
/// catalog, never from request data, so lookups cannot be made to collide.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A protocol an AWS service speaks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `awsJson1_0` / `awsJson1_1`: `POST /` with `X-Amz-Target`.
    Json,
    /// `restJson1`: method + URI template, JSON body.
    RestJson,
    /// `restXml`: method + URI template, XML body (S3, Route 53, CloudFront).
    RestXml,
    /// `awsQuery`: `Action` + `Version` in the query string or a form body.
    Query,
    /// `ec2Query`: like `awsQuery`, EC2 only.
    Ec2,
    /// Smithy RPCv2 CBOR: `POST /service/{Service}/operation/{Operation}`.
    Cbor,
}

impl Protocol {
    fn parse(s: &str) -> Option<Protocol> {
        Some(match s {
            "json" => Protocol::Json,
            "rest-json" => Protocol::RestJson,
            "rest-xml" => Protocol::RestXml,
            "query" => Protocol::Query,
            "ec2" => Protocol::Ec2,
            "smithy-rpc-v2-cbor" => Protocol::Cbor,
            _ => return None,
        })
    }

    /// The name botocore uses for this protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Json => "json",
            Protocol::RestJson => "rest-json",
            Protocol::RestXml => "rest-xml",
            Protocol::Query => "query",
            Protocol::Ec2 => "ec2",
            Protocol::Cbor => "smithy-rpc-v2-cbor",
        }
    }

    fn is_rest(self) -> bool {
        matches!(self, Protocol::RestJson | Protocol::RestXml)
    }
}

#[derive(Deserialize)]
struct RawDoc {
    botocore: String,
    services: Vec<RawService>,
}

#[derive(Deserialize)]
struct RawService {
    n: String,
    sig: Vec<String>,
    ep: String,
    iam: String,
    p: Vec<String>,
    tp: String,
    v: String,
    ops: Vec<RawOp>,
}

#[derive(Deserialize)]
struct RawOp(
    String,
    String,
    String,
    Vec<String>,
    Vec<String>,
    Vec<(String, String, String)>,
    Vec<String>,
    #[serde(default)] bool,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    Uri,
    Query,
    Header,
}

#[derive(Debug)]
pub(crate) struct Located {
    pub member: String,
    pub loc: Loc,
    pub name: String,
}

#[derive(Debug)]
pub(crate) enum Seg {
    Lit(String),
    Label(String),
    Greedy(String),
}

#[derive(Debug)]
pub(crate) struct Op {
    pub name: String,
    pub action: String,
    pub method: &'static str,
    pub path: Vec<Seg>,
    pub query_lits: Vec<(String, Option<String>)>,
    pub req_query: Vec<String>,
    pub req_headers: Vec<String>,
    pub located: Vec<Located>,
    pub arns: Vec<String>,
    pub deprecated: bool,
}

#[derive(Debug)]
pub(crate) struct Service {
    pub name: String,
    pub signing: Vec<String>,
    pub endpoint_prefix: String,
    pub iam_prefix: String,
    pub protocols: Vec<Protocol>,
    pub target_prefix: String,
    pub api_version: String,
    pub ops: Vec<Op>,
    pub rules: RuleSet,
}

/// (service index, operation index)
pub(crate) type OpRef = (u16, u32);

#[derive(Default, Debug)]
pub(crate) struct Node {
    pub lits: HashMap<String, usize>,
    pub label: Option<usize>,
    pub greedy: Option<usize>,
    pub terms: Vec<OpRef>,
}

#[derive(Default, Debug)]
pub(crate) struct Trie {
    pub nodes: Vec<Node>,
}

impl Trie {
    fn insert(&mut self, segs: &[Seg], r: OpRef) {
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
        }
        let mut cur = 0;
        for seg in segs {
            match seg {
                Seg::Lit(l) => {
                    cur = match self.nodes[cur].lits.get(l.as_str()) {
                        Some(&n) => n,
                        None => {
                            let n = self.nodes.len();
                            self.nodes.push(Node::default());
                            self.nodes[cur].lits.insert(l.clone(), n);
                            n
                        }
                    }
                }
                Seg::Label(_) => {
                    cur = match self.nodes[cur].label {
                        Some(n) => n,
                        None => {
                            let n = self.nodes.len();
                            self.nodes.push(Node::default());
                            self.nodes[cur].label = Some(n);
                            n
                        }
                    }
                }
                Seg::Greedy(_) => {
                    cur = match self.nodes[cur].greedy {
                        Some(n) => n,
                        None => {
                            let n = self.nodes.len();
                            self.nodes.push(Node::default());
                            self.nodes[cur].greedy = Some(n);
                            n
                        }
                    }
                }
            }
        }
        self.nodes[cur].terms.push(r);
    }
}

/// Everything reachable from one signing name (the credential scope's service).
#[derive(Default, Debug)]
pub(crate) struct Group {
    /// Service indices, the primary service (named like the signing name) first.
    pub services: Vec<u16>,
    /// `X-Amz-Target` value -> operations.
    pub targets: HashMap<String, Vec<OpRef>>,
    /// `{Service}/operation/{Operation}` (RPCv2 CBOR path tail) -> operations.
    pub cbor: HashMap<String, Vec<OpRef>>,
    /// Query `Action` -> operations.
    pub query: HashMap<String, Vec<OpRef>>,
    /// REST routes per HTTP method.
    pub rest: Vec<(&'static str, Trie)>,
    /// Whether this group contains S3 (virtual-host addressing applies).
    pub s3: bool,
}

pub(crate) struct Data {
    pub botocore: String,
    pub services: Vec<Service>,
    pub groups: HashMap<String, Group>,
}

fn intern_method(m: &str) -> Option<&'static str> {
    Some(match m {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => return None,
    })
}

fn parse_uri(uri: &str) -> (Vec<Seg>, Vec<(String, Option<String>)>) {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, q),
        None => (uri, ""),
    };
    let mut segs = Vec::new();
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if !trimmed.is_empty() {
        for s in trimmed.split('/') {
            if let Some(inner) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if let Some(g) = inner.strip_suffix('+') {
                    segs.push(Seg::Greedy(g.to_string()));
                } else {
                    segs.push(Seg::Label(inner.to_string()));
                }
            } else {
                segs.push(Seg::Lit(s.to_string()));
            }
        }
    }
    let mut lits = Vec::new();
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        match kv.split_once('=') {
            Some((k, v)) => lits.push((k.to_string(), Some(v.to_string()))),
            None => lits.push((kv.to_string(), None)),
        }
    }
    (segs, lits)
}

pub(crate) fn load(gz: &[u8]) -> Result<Data, LoadError> {
    let mut json = Vec::with_capacity(gz.len() * 9);
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut json)
        .map_err(|e| LoadError(format!("decompress: {e}")))?;
    let raw: RawDoc =
        serde_json::from_slice(&json).map_err(|e| LoadError(format!("parse: {e}")))?;
    if raw.services.len() > u16::MAX as usize {
        return Err(LoadError("too many services".into()));
    }
    let mut services = Vec::with_capacity(raw.services.len());
    for rs in raw.services {
        let protocols: Vec<Protocol> = rs.p.iter().filter_map(|p| Protocol::parse(p)).collect();
        let mut ops = Vec::with_capacity(rs.ops.len());
        for RawOp(name, method, uri, req_q, req_h, located, arns, deprecated) in rs.ops {
            let (path, query_lits) = parse_uri(&uri);
            let located = located
                .into_iter()
                .map(|(member, loc, name)| {
                    let loc = match loc.as_str() {
                        "u" => Loc::Uri,
                        "q" => Loc::Query,
                        _ => Loc::Header,
                    };
                    Located { member, loc, name }
                })
                .collect();
            let method = intern_method(&method)
                .ok_or_else(|| LoadError(format!("{}.{name}: method {method}", rs.n)))?;
            let action = match crate::rules::action_override(&rs.n, &name) {
                Some(a) => a.to_string(),
                None => format!("{}:{}", rs.iam, name),
            };
            ops.push(Op {
                action,
                name,
                method,
                path,
                query_lits,
                req_query: req_q,
                req_headers: req_h,
                located,
                arns,
                deprecated,
            });
        }
        let rules = RuleSet::for_service(&rs.n);
        services.push(Service {
            name: rs.n,
            signing: rs.sig,
            endpoint_prefix: rs.ep,
            iam_prefix: rs.iam,
            protocols,
            target_prefix: rs.tp,
            api_version: rs.v,
            ops,
            rules,
        });
    }
    let mut groups: HashMap<String, Group> = HashMap::default();
    for (si, svc) in services.iter().enumerate() {
        for sig in &svc.signing {
            groups
                .entry(sig.clone())
                .or_default()
                .services
                .push(si as u16);
        }
    }
    for (sig, group) in groups.iter_mut() {
        // Primary service first: the one named like the signing name, then
        // the one whose endpoint prefix is the signing name, then by name.
        group.services.sort_by_key(|&si| {
            let s = &services[si as usize];
            (s.name != *sig, s.endpoint_prefix != *sig, s.name.clone())
        });
        for &si in &group.services {
            let svc = &services[si as usize];
            if svc.name == "s3" {
                group.s3 = true;
            }
            for (oi, op) in svc.ops.iter().enumerate() {
                let r = (si, oi as u32);
                for p in &svc.protocols {
                    match p {
                        Protocol::Json => group
                            .targets
                            .entry(format!("{}.{}", svc.target_prefix, op.name))
                            .or_default()
                            .push(r),
                        Protocol::Cbor => group
                            .cbor
                            .entry(format!("{}/operation/{}", svc.target_prefix, op.name))
                            .or_default()
                            .push(r),
                        Protocol::Query | Protocol::Ec2 => {
                            group.query.entry(op.name.clone()).or_default().push(r)
                        }
                        Protocol::RestJson | Protocol::RestXml => {}
                    }
                }
                if svc.protocols.iter().any(|p| p.is_rest()) {
                    let trie = match group.rest.iter().position(|(m, _)| *m == op.method) {
                        Some(i) => &mut group.rest[i].1,
                        None => {
                            group.rest.push((op.method, Trie::default()));
                            &mut group.rest.last_mut().expect("just pushed").1
                        }
                    };
                    trie.insert(&op.path, r);
                }
            }
        }
        for v in group
            .targets
            .values_mut()
            .chain(group.cbor.values_mut())
            .chain(group.query.values_mut())
        {
            v.dedup();
        }
    }
    Ok(Data {
        botocore: raw.botocore,
        services,
        groups,
    })
}
