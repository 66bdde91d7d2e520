//! The routing table: longest-prefix match from destination to next hop.
//!
//! Read first: RFC 1122 §3.3.1 (a host's routing decision), RFC 1812 §5.2.4.3
//! (longest match). Linux calls the lookup `fib_lookup`. A host like synack
//! has a connected route for its own subnet (next hop = the destination
//! itself), a default route via a gateway, and any static routes added at the
//! prompt (`route add 192.168.5.0/24 via 10.0.0.1`). `prefix_mask` turns a
//! prefix length into its netmask.

use crate::errno::Errno;
use core::fmt;
use std::net::Ipv4Addr;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum RouteKind {
    /// Our own subnet: reachable directly on the link (`proto kernel scope link`).
    Connected,
    /// Added by the user (or the default route from the config).
    Static,
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Route {
    /// Network address (host bits zero).
    pub dest: Ipv4Addr,
    pub prefix_len: u8,
    /// None: on-link; the next hop is the destination itself.
    pub gateway: Option<Ipv4Addr>,
    pub kind: RouteKind,
}

impl Route {
    pub fn new(dest: Ipv4Addr, prefix_len: u8, gateway: Option<Ipv4Addr>) -> Route {
        let prefix_len = prefix_len.min(32);
        let dest = Ipv4Addr::from(u32::from(dest) & prefix_mask(prefix_len));
        Route { dest, prefix_len, gateway, kind: RouteKind::Static }
    }
    pub fn default_via(gw: Ipv4Addr) -> Route {
        Route::new(Ipv4Addr::UNSPECIFIED, 0, Some(gw))
    }
    pub fn matches(&self, dst: Ipv4Addr) -> bool {
        u32::from(dst) & prefix_mask(self.prefix_len) == u32::from(self.dest)
    }
    /// The address to resolve with ARP to reach `dst` over this route.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        self.gateway.unwrap_or(dst)
    }
}

impl fmt::Display for Route {
    /// `ip route` style: `default via 10.0.0.1`, `10.0.0.0/24 dev synack0 scope link`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix_len == 0 {
            write!(f, "default")?;
        } else {
            write!(f, "{}/{}", self.dest, self.prefix_len)?;
        }
        match (self.gateway, self.kind) {
            (Some(gw), _) => write!(f, " via {gw}"),
            (None, RouteKind::Connected) => write!(f, " scope link proto kernel"),
            (None, RouteKind::Static) => write!(f, " scope link"),
        }
    }
}

/// Routes kept sorted by prefix length, longest first, so the first match
/// is the longest-prefix match.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// A bound on routes: input from the prompt, not the wire, but still bounded.
pub const MAX_ROUTES: usize = 256;

impl RouteTable {
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn add_connected(&mut self, addr: Ipv4Addr, prefix_len: u8) {
        let mut r = Route::new(addr, prefix_len, None);
        r.kind = RouteKind::Connected;
        let _ = self.add(r);
    }

    /// Add a route; `EEXIST`-like `EADDRINUSE` if the same prefix exists.
    pub fn add(&mut self, route: Route) -> Result<(), Errno> {
        let route = Route { dest: Ipv4Addr::from(u32::from(route.dest) & prefix_mask(route.prefix_len)), ..route };
        if self.routes.iter().any(|r| r.dest == route.dest && r.prefix_len == route.prefix_len) {
            return Err(Errno::EADDRINUSE);
        }
        if self.routes.len() >= MAX_ROUTES {
            return Err(Errno::ENOBUFS);
        }
        let pos = self.routes.iter().position(|r| r.prefix_len < route.prefix_len).unwrap_or(self.routes.len());
        self.routes.insert(pos, route);
        Ok(())
    }

    pub fn del(&mut self, dest: Ipv4Addr, prefix_len: u8) -> Result<(), Errno> {
        let dest = Ipv4Addr::from(u32::from(dest) & prefix_mask(prefix_len));
        let before = self.routes.len();
        self.routes.retain(|r| !(r.dest == dest && r.prefix_len == prefix_len));
        if self.routes.len() == before {
            Err(Errno::EINVAL)
        } else {
            Ok(())
        }
    }

    /// `fib_lookup`: the most specific route to `dst`.
    pub fn route_lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(dst))
    }
}

/// The netmask of a prefix length, as a number (`inet_make_mask`): 24 gives
/// 0xffff_ff00.
pub fn prefix_mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - prefix_len.min(32) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = RouteTable::default();
        t.add(Route::default_via(ip("10.0.0.1"))).unwrap();
        t.add_connected(ip("10.0.0.2"), 24);
        t.add(Route::new(ip("192.168.5.0"), 24, Some(ip("10.0.0.254")))).unwrap();
        t.add(Route::new(ip("192.168.5.128"), 25, Some(ip("10.0.0.253")))).unwrap();
        assert_eq!(t.route_lookup(ip("10.0.0.9")).unwrap().next_hop(ip("10.0.0.9")), ip("10.0.0.9"));
        assert_eq!(t.route_lookup(ip("192.168.5.7")).unwrap().gateway, Some(ip("10.0.0.254")));
        assert_eq!(t.route_lookup(ip("192.168.5.200")).unwrap().gateway, Some(ip("10.0.0.253")));
        assert_eq!(t.route_lookup(ip("8.8.8.8")).unwrap().gateway, Some(ip("10.0.0.1")));
        assert_eq!(t.route_lookup(ip("8.8.8.8")).unwrap().to_string(), "default via 10.0.0.1");
        let connected = t.routes().iter().find(|r| r.kind == RouteKind::Connected).unwrap();
        assert_eq!(connected.to_string(), "10.0.0.0/24 scope link proto kernel");
        assert_eq!(t.routes()[0].prefix_len, 25);
    }

    #[test]
    fn add_del() {
        let mut t = RouteTable::default();
        t.add(Route::new(ip("172.16.1.9"), 16, None)).unwrap();
        assert_eq!(t.add(Route::new(ip("172.16.0.0"), 16, None)), Err(Errno::EADDRINUSE));
        assert!(t.route_lookup(ip("172.16.200.1")).is_some());
        t.del(ip("172.16.0.0"), 16).unwrap();
        assert!(t.route_lookup(ip("172.16.200.1")).is_none());
        assert_eq!(t.del(ip("172.16.0.0"), 16), Err(Errno::EINVAL));
    }
}
