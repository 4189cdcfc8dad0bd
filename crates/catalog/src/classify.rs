//! Routing a request to its operation.

use std::borrow::Cow;

use crate::model::{Group, OpRef, Protocol, Seg, Trie};
use crate::request::{decode, pair_value, split_pairs, RequestView};
use crate::rules::Ctx;
use crate::{Catalog, Outcome, Unknown};

/// Max path segments considered; deeper paths can only match greedy labels.
const MAX_DEPTH: usize = 28;

pub(crate) fn classify<'c, 'r>(cat: &'c Catalog, req: &RequestView<'r>) -> Outcome<'c> {
    let Some(group) = cat.data.groups.get(req.service) else {
        return Outcome::Unknown(Unknown::UnknownService);
    };
    let query = split_pairs(req.query);

    // JSON 1.0 / 1.1: X-Amz-Target.
    match req.header_count("x-amz-target") {
        0 => {}
        1 => {
            let t = req.header("x-amz-target").unwrap_or("");
            return match group.targets.get(t) {
                Some(refs) => finish(
                    cat,
                    group,
                    pick(cat, refs, req),
                    Protocol::Json,
                    req,
                    query,
                    Vec::new(),
                ),
                None => Outcome::Unknown(Unknown::NoMatchingOperation),
            };
        }
        _ => return Outcome::Unknown(Unknown::Ambiguous),
    }

    // Smithy RPCv2 CBOR: /service/{Service}/operation/{Operation}.
    if !group.cbor.is_empty() && req.method == "POST" {
        if let Some(tail) = req.path.strip_prefix("/service/") {
            if let Some(refs) = group.cbor.get(tail) {
                return finish(
                    cat,
                    group,
                    pick(cat, refs, req),
                    Protocol::Cbor,
                    req,
                    query,
                    Vec::new(),
                );
            }
        }
    }

    // Query / EC2: Action (+ Version) in the query string or a form body.
    if !group.query.is_empty() {
        let form = is_form(req).then(|| split_pairs(std::str::from_utf8(req.body).unwrap_or("")));
        let from_query = pair_value(&query, "Action");
        let from_form = form
            .as_deref()
            .map(|f| pair_value(f, "Action"))
            .unwrap_or(Ok(None));
        let (Ok(aq), Ok(af)) = (from_query, from_form) else {
            return Outcome::Unknown(Unknown::Ambiguous);
        };
        let action = match (aq, af) {
            (Some(a), Some(b)) if a != b => return Outcome::Unknown(Unknown::Ambiguous),
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        if let Some(action) = action {
            let action = decode(action, true);
            let Some(refs) = group.query.get(action.as_ref()) else {
                return Outcome::Unknown(Unknown::NoMatchingOperation);
            };
            let version = match (
                pair_value(&query, "Version"),
                form.as_deref().map(|f| pair_value(f, "Version")),
            ) {
                (Ok(Some(v)), _) | (_, Some(Ok(Some(v)))) => Some(v),
                _ => None,
            };
            let r = version
                .and_then(|v| {
                    refs.iter()
                        .copied()
                        .find(|&(s, _)| cat.data.services[s as usize].api_version == v)
                })
                .unwrap_or_else(|| pick(cat, refs, req));
            let proto = if cat.data.services[r.0 as usize]
                .protocols
                .contains(&Protocol::Ec2)
            {
                Protocol::Ec2
            } else {
                Protocol::Query
            };
            let svc = &cat.data.services[r.0 as usize];
            let op = &svc.ops[r.1 as usize];
            let params = form.unwrap_or_else(|| query.clone());
            return Ctx::new(svc, op, proto, req, query, Vec::new(), Some(params)).run();
        }
    }

    // REST: method + URI template.
    if group.rest.is_empty() {
        return Outcome::Unknown(Unknown::NoMatchingOperation);
    }
    let Some((_, trie)) = group.rest.iter().find(|(m, _)| *m == req.method) else {
        return Outcome::Unknown(Unknown::NoMatchingOperation);
    };
    let path = req.path.strip_prefix('/').unwrap_or(req.path);
    let mut segs: Vec<&str> = Vec::with_capacity(8);
    let mut s3_host = None;
    if group.s3 {
        s3_host = s3_virtual_host(req.host, &cat.config.s3_virtual_host_suffixes);
    }
    let mut best: Option<(Score, OpRef)> = None;
    if let Some(h) = s3_host {
        segs.push(h.bucket);
        if !path.is_empty() {
            segs.extend(path.split('/'));
        }
        walk(cat, trie, 0, &segs, 0, 0, &query, req, &mut best);
        if best.is_none() {
            // Not a bucket after all (e.g. a host prefix): path-style.
            s3_host = None;
            segs.clear();
        }
    }
    if best.is_none() {
        if !path.is_empty() {
            segs.extend(path.split('/'));
        }
        walk(cat, trie, 0, &segs, 0, 0, &query, req, &mut best);
    }
    let Some((_, r)) = best else {
        return Outcome::Unknown(Unknown::NoMatchingOperation);
    };
    let op = &cat.data.services[r.0 as usize].ops[r.1 as usize];
    let labels = capture(&op.path, &segs);
    let proto = if cat.data.services[r.0 as usize]
        .protocols
        .contains(&Protocol::RestXml)
    {
        Protocol::RestXml
    } else {
        Protocol::RestJson
    };
    let mut out = finish(cat, group, r, proto, req, query, labels);
    if let (Some(h), Outcome::Known(c)) = (s3_host, &mut out) {
        if let Some(ap) = h.access_point {
            crate::rules::s3_access_point_rewrite(c, h.bucket, ap, req);
        }
    }
    out
}

fn is_form(req: &RequestView<'_>) -> bool {
    req.method == "POST"
        && req.header("content-type").is_some_and(|c| {
            c.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Among operations that match equally, prefer the service whose endpoint
/// prefix is the host's first label, else the group's primary service.
fn pick(cat: &Catalog, refs: &[OpRef], req: &RequestView<'_>) -> OpRef {
    if refs.len() > 1 {
        if let Some(r) = refs
            .iter()
            .find(|&&(s, _)| host_is(req.host, &cat.data.services[s as usize].endpoint_prefix))
        {
            return *r;
        }
    }
    refs[0]
}

/// Whether `host` is `{prefix}.…` (an AWS endpoint of that service).
fn host_is(host: &str, prefix: &str) -> bool {
    host.len() > prefix.len()
        && host.as_bytes()[prefix.len()] == b'.'
        && host[..prefix.len()].eq_ignore_ascii_case(prefix)
}

type Score = (u64, usize, usize, bool, bool);

#[allow(clippy::too_many_arguments)]
fn walk(
    cat: &Catalog,
    trie: &Trie,
    node: usize,
    segs: &[&str],
    i: usize,
    spec: u64,
    query: &[(&str, &str)],
    req: &RequestView<'_>,
    best: &mut Option<(Score, OpRef)>,
) {
    let Some(n) = trie.nodes.get(node) else {
        return;
    };
    let depth_shift = |d: usize| 2 * (MAX_DEPTH.saturating_sub(d)) as u64;
    // Terminal: all segments consumed (a single trailing empty segment, a
    // trailing slash, is tolerated).
    if i == segs.len() || (i + 1 == segs.len() && segs[i].is_empty() && i > 0) {
        for &r in &n.terms {
            consider(cat, r, spec, query, req, best);
        }
    }
    if i < segs.len() && i < MAX_DEPTH {
        if let Some(&child) = n.lits.get(segs[i]) {
            walk(
                cat,
                trie,
                child,
                segs,
                i + 1,
                spec | (3 << depth_shift(i)),
                query,
                req,
                best,
            );
        }
        if let Some(child) = n.label {
            if !segs[i].is_empty() {
                walk(
                    cat,
                    trie,
                    child,
                    segs,
                    i + 1,
                    spec | (2 << depth_shift(i)),
                    query,
                    req,
                    best,
                );
            }
        }
        if let Some(child) = n.greedy {
            // A greedy label takes one or more segments (not all empty).
            let c = &trie.nodes[child];
            // A greedy label with nothing after it takes all the rest.
            let lo = if c.lits.is_empty() && c.label.is_none() && c.greedy.is_none() {
                segs.len()
            } else {
                i + 1
            };
            for j in (lo..=segs.len()).rev() {
                if segs[i..j].iter().any(|s| !s.is_empty()) {
                    walk(
                        cat,
                        trie,
                        child,
                        segs,
                        j,
                        spec | (1 << depth_shift(i)),
                        query,
                        req,
                        best,
                    );
                }
            }
        }
    }
}

fn consider(
    cat: &Catalog,
    r: OpRef,
    spec: u64,
    query: &[(&str, &str)],
    req: &RequestView<'_>,
    best: &mut Option<(Score, OpRef)>,
) {
    let svc = &cat.data.services[r.0 as usize];
    let op = &svc.ops[r.1 as usize];
    for (k, v) in &op.query_lits {
        match (pair_value(query, k), v) {
            (Ok(Some(_)), None) => {}
            (Ok(Some(got)), Some(want)) if decode(got, true) == want.as_str() => {}
            _ => return,
        }
    }
    for k in &op.req_query {
        if !matches!(pair_value(query, k), Ok(Some(_))) {
            return;
        }
    }
    for h in &op.req_headers {
        if req.header(h).is_none() {
            return;
        }
    }
    let host_pref = host_is(req.host, &svc.endpoint_prefix);
    let score = (
        spec,
        op.query_lits.len(),
        op.req_query.len() + op.req_headers.len(),
        host_pref,
        !op.deprecated,
    );
    if best.as_ref().is_none_or(|(b, _)| score > *b) {
        *best = Some((score, r));
    }
}

fn capture<'c, 'r>(tpl: &'c [Seg], segs: &[&'r str]) -> Vec<(&'c str, Cow<'r, str>)> {
    let mut out = Vec::new();
    for (i, seg) in tpl.iter().enumerate() {
        match seg {
            Seg::Lit(_) => {}
            Seg::Label(name) => {
                if let Some(s) = segs.get(i) {
                    out.push((name.as_str(), decode(s, false)));
                }
            }
            Seg::Greedy(name) => {
                let after = tpl.len() - i - 1;
                let end = segs.len().saturating_sub(after).max(i);
                if i < end {
                    let joined = segs[i..end].join("/");
                    out.push((
                        name.as_str(),
                        Cow::Owned(decode(&joined, false).into_owned()),
                    ));
                }
                // Labels after the greedy one are matched from the end.
                for (k, seg) in tpl[i + 1..].iter().enumerate() {
                    if let (Seg::Label(name), Some(s)) = (seg, segs.get(end + k)) {
                        out.push((name.as_str(), decode(s, false)));
                    }
                }
                return out;
            }
        }
    }
    out
}

fn finish<'c, 'r>(
    cat: &'c Catalog,
    _group: &'c Group,
    r: OpRef,
    proto: Protocol,
    req: &RequestView<'r>,
    query: Vec<(&'r str, &'r str)>,
    labels: Vec<(&'c str, Cow<'r, str>)>,
) -> Outcome<'c> {
    let svc = &cat.data.services[r.0 as usize];
    let op = &svc.ops[r.1 as usize];
    let ctx = Ctx::new(svc, op, proto, req, query, labels, None);
    ctx.run()
}

/// A bucket addressed by host name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct S3Host<'r> {
    pub bucket: &'r str,
    /// `Some(region)` when the host is an access point's
    /// (`{name}-{account}.s3-accesspoint.{region}.amazonaws.com`).
    pub access_point: Option<&'r str>,
}

pub(crate) fn s3_virtual_host<'r>(host: &'r str, suffixes: &[String]) -> Option<S3Host<'r>> {
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(']') => h,
        _ => host,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    for suf in suffixes {
        if host.len() > suf.len() + 1 {
            let (pre, post) = host.split_at(host.len() - suf.len());
            if post.eq_ignore_ascii_case(suf) && pre.ends_with('.') {
                return Some(S3Host {
                    bucket: &pre[..pre.len() - 1],
                    access_point: None,
                });
            }
        }
    }
    let lower_ok = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
    if !lower_ok {
        return None;
    }
    // Rightmost label that names S3 (s3, s3-fips, s3-us-west-2,
    // s3-accesspoint, s3express-…), not S3 Control.
    let mut label_end = host.len();
    loop {
        let start = host[..label_end].rfind('.').map(|p| p + 1).unwrap_or(0);
        let label = &host[start..label_end];
        if start > 0 && label.starts_with("s3") && !label.contains("control") {
            let bucket = &host[..start - 1];
            let access_point = if label.starts_with("s3-accesspoint") {
                host[label_end..].trim_start_matches('.').split('.').next()
            } else {
                None
            };
            return Some(S3Host {
                bucket,
                access_point,
            });
        }
        if start == 0 {
            return None;
        }
        label_end = start - 1;
    }
}
