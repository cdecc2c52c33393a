// Package pagecache lets go of the kernel's cached pages of files written
// once and rarely read again (state versions, backups).
//
// Why: each state version is a new file the size of the state, and the
// newest several are kept. Left in the page cache, every version takes
// fresh pages, which the kernel must find, zero and map (on a virtual
// machine, often pages its host took back); measured on a 2-core VM, a new
// 80 MB file cost 71 ms of CPU to write that way and 23 ms when the pages
// of each synced chunk were dropped, so that the next chunk reused them.
package pagecache

import "os"

// Drop tells the kernel that the bytes [off, off+n) of f (n 0: to its
// end), which must be synced already, will not be read soon: their pages
// are freed rather than kept cached. It is advice; errors are ignored, and
// it does nothing where the system has no such advice.
func Drop(f *os.File, off, n int64) { drop(f, off, n) }
