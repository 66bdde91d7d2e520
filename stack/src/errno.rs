//! One error type for the socket API, with Linux's errno names and texts.

use core::fmt;

macro_rules! errnos {
    ($($name:ident = $num:expr, $text:expr;)*) => {
        /// Errors from socket calls, named as in Linux `errno.h`.
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
        pub enum Errno { $($name,)* }

        impl Errno {
            /// The Linux errno number.
            pub fn code(self) -> i32 { match self { $(Errno::$name => $num,)* } }
            /// The name, e.g. `"EAGAIN"`.
            pub fn name(self) -> &'static str { match self { $(Errno::$name => stringify!($name),)* } }
            /// The text `strerror` gives on Linux.
            pub fn text(self) -> &'static str { match self { $(Errno::$name => $text,)* } }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    EINTR = 4, "Interrupted system call";
    EBADF = 9, "Bad file descriptor";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EEXIST = 17, "File exists";
    EINVAL = 22, "Invalid argument";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    EPIPE = 32, "Broken pipe";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EDESTADDRREQ = 89, "Destination address required";
    EMSGSIZE = 90, "Message too long";
    EPROTOTYPE = 91, "Protocol wrong type for socket";
    ENOPROTOOPT = 92, "Protocol not available";
    EOPNOTSUPP = 95, "Operation not supported";
    EAFNOSUPPORT = 97, "Address family not supported by protocol";
    EADDRINUSE = 98, "Address already in use";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENETUNREACH = 101, "Network is unreachable";
    ECONNABORTED = 103, "Software caused connection abort";
    ECONNRESET = 104, "Connection reset by peer";
    ENOBUFS = 105, "No buffer space available";
    EISCONN = 106, "Transport endpoint is already connected";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ESHUTDOWN = 108, "Cannot send after transport endpoint shutdown";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EHOSTUNREACH = 113, "No route to host";
    EALREADY = 114, "Operation already in progress";
    EINPROGRESS = 115, "Operation now in progress";
}

impl Errno {
    /// Linux defines `EWOULDBLOCK` as `EAGAIN`.
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text(), self.name())
    }
}

impl std::error::Error for Errno {}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_and_texts() {
        assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
        assert_eq!(Errno::ECONNREFUSED.code(), 111);
        assert_eq!(Errno::ECONNREFUSED.to_string(), "Connection refused (ECONNREFUSED)");
    }
}
