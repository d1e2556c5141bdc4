/**
 * What `exec` loads: an ELF-like program image and the shared libraries it
 * links, and where exec put each piece (the process layout). Sizes are in
 * 4 KiB pages. Text is mapped private read-only from the page cache, data
 * private writable from the page cache (copied on first write), bss, heap
 * and stack are anonymous demand-zero memory: Linux's binfmt_elf and ld.so.
 */
export interface LibraryImage {
  /** File name in the guest's page cache; the text then the data pages. */
  readonly path: string;
  readonly textPages: number;
  readonly dataPages: number;
  readonly bssPages: number;
}

export interface ProgramImage extends LibraryImage {
  /** Heap (brk area) reserved at exec; pages are faulted in on first touch. */
  readonly heapPages: number;
  /** Stack area reserved below the stack top. */
  readonly stackPages: number;
  readonly libraries: readonly LibraryImage[];
}

/** Where one mapped object (the program or a library) landed. */
export interface SegmentLayout {
  readonly textVpn: number;
  readonly textPages: number;
  readonly dataVpn: number;
  readonly dataPages: number;
  readonly bssVpn: number;
  readonly bssPages: number;
}

export interface ProcessLayout extends SegmentLayout {
  readonly heapVpn: number;
  readonly heapPages: number;
  /** Lowest page of the stack area; the stack's top page is stackVpn + stackPages - 1. */
  readonly stackVpn: number;
  readonly stackPages: number;
  readonly libraries: readonly SegmentLayout[];
}

/** The C library and dynamic loader every program links (i386 glibc 2.5 sizes). */
export const LD_SO: LibraryImage = { path: '/lib/ld-linux.so.2', textPages: 29, dataPages: 2, bssPages: 0 };
export const LIBC: LibraryImage = { path: '/lib/libc.so.6', textPages: 318, dataPages: 3, bssPages: 3 };

/** A small library of the given text size (one data page, no bss). */
export function library(path: string, textPages: number, dataPages = 1, bssPages = 0): LibraryImage {
  return { path, textPages, dataPages, bssPages };
}
