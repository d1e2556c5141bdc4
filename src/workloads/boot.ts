import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import { deriveStream } from '../random/derive-stream.js';
import type { Xoshiro128 } from '../random/xoshiro128.js';
import { RunEnded, TimerTicks, VcpuActivity } from './guest-cpu.js';
import { GuestKernel, KERNEL_PID } from './guest-kernel.js';
import { LD_SO, LIBC, library, type LibraryImage, type ProgramImage } from './guest-program.js';
import type { WorkloadConfig, WorkloadDefinition } from './workload.js';

/**
 * A Linux guest booting, as a 2008 Xen domU did: the loader writes the
 * kernel image into memory; the kernel builds its page tables (the direct
 * map of RAM in 4 KiB pages, the module area, the fixmap), initialises its
 * page descriptors and slab caches, starts init; init runs the rc scripts,
 * which run short-lived commands (fork, exec, exit) and start the daemons
 * (each daemonises with a second fork); init starts the gettys; the page
 * cache fills with what all of them read from disk; then the guest settles:
 * timer ticks, and a daemon waking now and then. Everything runs on vCPU 0,
 * as early boot does; the other vCPUs only tick.
 *
 * Reference (seed 000): a Xen PAE PV guest after boot had 341 L1, 71 L2 and
 * 19 L3 page-table pages, and 70 to 80% of the 174,592 leaf slots
 * (341 x 512) held a PTE with A, D and RW. With the defaults (guest 'pv',
 * paging 'pae', any memory of at least 512 MiB) the boot ends with 18
 * processes (19 L3 with the kernel's own), four L2s each (PAE pgds
 * preallocate them, and Xen needs the kernel's L2 copied into each), and
 * three quarters of the leaf slots A+D+RW: almost all of them are the direct
 * map, which Linux writes with A and D already set (PAGE_KERNEL).
 *
 * Memory: `mem` plays Linux's mem= option. Its default, 512 MiB, is the
 * reference guest's RAM as its counts imply (0.75 x 174,592 slots is
 * 131,000 pages, 512 MiB, and 256 L1s of direct map plus ~4.5 per process
 * make 341); with a larger VM (the CLI's 1 GiB) the rest of memory is never
 * touched: zero pages.
 */
export const boot: WorkloadDefinition = {
  name: 'boot',
  description: 'a Linux guest booting: kernel image, page tables, init, rc scripts, daemons, page cache; then idle',
  usesMmu: true,
  // A booting kernel writes its image (x86 code: zlib level 1 shrank it
  // 2.15x, page-codec.ts), page tables (runs of similar entries), slab and
  // page descriptors, and the page cache (binaries, libraries, scripts,
  // configuration), and zeroes the pages it hands out (bss, anonymous
  // memory, fresh tables) before anything fills them.
  pageContents: () => ({
    zero: 0.2,
    compressible: 0.7,
    ratio: 2.5,
    why: 'boot: kernel image, page tables, slabs and page cache compress about 2.5x; a fifth of written pages are freshly zeroed allocations; a tenth incompressible',
  }),
  params: [
    {
      name: 'mem',
      kind: 'size',
      default: 512 * 1024 * 1024,
      description: "RAM the guest kernel uses in bytes, like Linux's mem= (0: all guest memory); 512 MiB matches the reference guest",
    },
    { name: 'daemons', kind: 'int', max: 14, default: 11, description: 'long-lived daemons the rc scripts start, up to 14 (each forks twice to daemonise)' },
    { name: 'gettys', kind: 'int', default: 6, description: 'gettys init starts on the consoles at the end of boot' },
    { name: 'commands', kind: 'int', default: 100, description: 'short-lived commands the rc scripts run (fork, exec, exit)' },
    { name: 'pageCache', kind: 'size', default: 48 * 1024 * 1024, description: 'bytes read from disk into the page cache during boot (programs, libraries, data files)' },
    { name: 'bootTime', kind: 'duration', default: 3_000_000_000, description: 'guest time in ns at which the last daemon has started; the guest idles after it' },
    { name: 'hz', kind: 'rate', min: 1, default: 250, description: 'timer interrupts per second on each vCPU' },
    { name: 'wakeInterval', kind: 'duration', default: 500_000_000, description: 'after boot, one daemon wakes every this many ns (round robin) and touches a few pages' },
  ],
  generate(config, out) {
    return new BootScript(config, out).run();
  },
};

const INIT: ProgramImage = {
  path: '/sbin/init',
  textPages: 9,
  dataPages: 1,
  bssPages: 1,
  heapPages: 32,
  stackPages: 32,
  libraries: [LD_SO, LIBC, library('/lib/libsepol.so.1', 60, 2), library('/lib/libselinux.so.1', 22, 2)],
};

const BASH: ProgramImage = {
  path: '/bin/bash',
  textPages: 180,
  dataPages: 5,
  bssPages: 6,
  heapPages: 256,
  stackPages: 32,
  libraries: [LD_SO, LIBC, library('/lib/libtermcap.so.2', 3), library('/lib/libdl.so.2', 3)],
};

const LIBPTHREAD = library('/lib/libpthread.so.0', 22, 1, 1);
const LIBNSL = library('/lib/libnsl.so.1', 20, 1, 1);
const LIBGLIB = library('/lib/libglib-2.0.so.0', 170, 2);
const LIBDBUS = library('/lib/libdbus-1.so.3', 62, 2);
const LIBCRYPTO = library('/lib/libcrypto.so.6', 300, 20, 3);

interface DaemonProfile {
  readonly image: ProgramImage;
  /** Heap pages it writes while it starts (its state, caches, parsed config). */
  readonly heapWritten: number;
  /** Pages of glibc's locale archive it reads (setlocale maps the whole archive). */
  readonly localePages: number;
}

function daemon(name: string, textPages: number, heapPages: number, libs: readonly LibraryImage[], heapWritten: number, localePages = 0): DaemonProfile {
  return {
    image: { path: `/usr/sbin/${name}`, textPages, dataPages: 2, bssPages: 2, heapPages, stackPages: 32, libraries: [LD_SO, LIBC, ...libs] },
    heapWritten,
    localePages,
  };
}

/** /usr/lib/locale/locale-archive: 56 MiB, mapped private read-only by every program that calls setlocale. */
const LOCALE_ARCHIVE_PAGES = 14_336;

/** CentOS 5-era daemons, in the order rc starts them. */
const DAEMONS: readonly DaemonProfile[] = [
  daemon('syslogd', 8, 64, [], 8),
  daemon('klogd', 5, 32, [], 4),
  daemon('portmap', 6, 32, [LIBNSL], 6),
  daemon('rpc.statd', 12, 64, [LIBNSL], 10),
  daemon('dbus-daemon', 80, 256, [LIBDBUS, LIBPTHREAD, library('/lib/libexpat.so.0', 40, 2), library('/lib/libselinux.so.1', 22, 2)], 60, 3),
  daemon('hald', 120, 1024, [LIBDBUS, LIBGLIB, LIBPTHREAD, library('/usr/lib/libhal.so.1', 20, 1), library('/lib/libvolume_id.so.0', 16, 1)], 300, 3),
  daemon('acpid', 6, 32, [], 4),
  daemon('sshd', 90, 256, [LIBCRYPTO, LIBNSL, library('/lib/libutil.so.1', 2), library('/lib/libz.so.1', 18, 1), library('/lib/libpam.so.0', 12, 1)], 80, 3),
  daemon('xinetd', 40, 64, [LIBNSL], 12, 3),
  daemon('sendmail', 190, 512, [LIBCRYPTO, LIBNSL, library('/usr/lib/libdb-4.3.so', 250, 2), library('/lib/libresolv.so.2', 18, 1)], 120, 3),
  daemon('crond', 14, 64, [library('/lib/libpam.so.0', 12, 1), library('/lib/libselinux.so.1', 22, 2)], 12, 3),
  daemon('atd', 8, 32, [], 4),
  daemon('irqbalance', 6, 32, [], 4),
  daemon('gpm', 12, 32, [], 4),
];

const GETTY: ProgramImage = { path: '/sbin/mingetty', textPages: 3, dataPages: 1, bssPages: 1, heapPages: 16, stackPages: 32, libraries: [LD_SO, LIBC] };

/** Short-lived commands of the rc scripts. */
const COMMANDS: readonly ProgramImage[] = [
  ['sed', 14],
  ['grep', 22],
  ['awk', 75],
  ['mount', 16],
  ['modprobe', 8],
  ['cat', 6],
  ['ifconfig', 18],
  ['hostname', 3],
  ['touch', 10],
  ['rm', 11],
  ['loadkeys', 20],
  ['udevadm', 30],
].map(([name, text]) => ({
  path: `/bin/${name}`,
  textPages: text as number,
  dataPages: 1,
  bssPages: 1,
  heapPages: 32,
  stackPages: 32,
  libraries: [LD_SO, LIBC],
}));

/** Guest time one access takes in the scripted parts (a few hundred ns of code between stores). */
const ACCESS_NS = 200;

class BootScript {
  private readonly kernel: GuestKernel;
  private readonly activity: VcpuActivity;
  private readonly ticks: TimerTicks;
  private readonly rng: Xoshiro128;
  private readonly durationNs: number;
  private readonly p: WorkloadConfig['params'];
  /** vCPU 0's time: when the script's next step runs. */
  private t = 0;
  private readonly cachedPrograms = new Set<string>();
  private pageCacheLeft: number;
  private dataFiles = 0;

  constructor(config: WorkloadConfig, out: GuestBatchBuilder) {
    this.p = config.params;
    const memBytes = Number(this.p['mem']);
    this.kernel = new GuestKernel({ ...config, ramPages: memBytes > 0 ? Math.floor(memBytes / 4096) : config.memPages, imagePages: 1536 }, out);
    this.activity = new VcpuActivity(out, config.vcpus);
    this.ticks = new TimerTicks(this.kernel, this.activity, Number(this.p['hz']), Infinity);
    this.rng = deriveStream(config.seed, 'boot/script');
    this.durationNs = config.durationNs;
    this.pageCacheLeft = Math.floor(Number(this.p['pageCache']) / 4096);
  }

  run(): Record<string, number> {
    try {
      this.script();
    } catch (e) {
      if (!(e instanceof RunEnded)) throw e;
    }
    this.ticks.until(this.durationNs);
    this.activity.finish(this.durationNs);
    return { ...this.kernel.statsEntries(), pageCachePages: this.pageCachePages() };
  }

  private pageCachePages(): number {
    return this.kernel.counters.diskReads;
  }

  /** Moves vCPU 0 to `tNs` (an idle gap when later than now) and checks the run is not over. */
  private at(tNs: number): number {
    if (tNs > this.t) this.t = tNs;
    if (this.t > this.durationNs) throw new RunEnded();
    this.ticks.until(this.t);
    return this.t;
  }

  /** vCPU 0 is busy until `endNs`. */
  private busy(endNs: number): void {
    this.t = Math.max(this.t, endNs);
    this.activity.busyUntil(0, this.t);
  }

  private touch(pid: number, vpn: number, write: boolean): void {
    const t = this.at(this.t);
    this.busy(this.kernel.touch(pid, 0, vpn, write, t) + ACCESS_NS);
  }

  private script(): void {
    const k = this.kernel;
    const p = this.p;
    // The loader writes the kernel image and initrd; the kernel builds its tables.
    this.busy(k.loadImage(0));
    this.busy(k.boot(0, this.at(this.t)));
    this.ticks.nextNs = this.t;
    // Page descriptors (struct page for every frame) and the slab caches.
    const memMapPages = Math.ceil((k.ramPages * 32) / 4096);
    const kernelData = k.allocKernelPages(memMapPages + 2048);
    for (let i = 0; i < kernelData.length; i++) this.busy(k.kernelWrite(0, kernelData[i]!, 4096, this.at(this.t)) + 1_000);

    const bootTime = Number(p['bootTime']);
    const daemons = Math.min(Number(p['daemons']), DAEMONS.length);
    const gettys = Number(p['gettys']);
    const commands = Number(p['commands']);

    // init.
    this.at(Math.min(50_000_000, bootTime / 20));
    const init = k.createProcess(0, this.t);
    this.busy(k.endNs);
    this.exec(init, INIT, 4);
    // rc.sysinit and the rc scripts, one shell.
    const rc = this.forkExec(init, BASH, 64);
    const start = this.t;
    const slots = daemons + 1;
    let commandsLeft = commands;
    // Data files the daemons read share what the programs' own pages leave of the page-cache budget.
    for (let d = 0; d < slots; d++) {
      this.at(start + Math.floor(((bootTime - start) * d) / slots));
      const n = Math.round(commandsLeft / (slots - d));
      commandsLeft -= n;
      for (let c = 0; c < n; c++) this.command(rc);
      if (d < daemons) this.startDaemon(rc, DAEMONS[d]!, daemons - d);
    }
    this.at(bootTime);
    for (let g = 0; g < gettys; g++) this.forkExec(init, GETTY, 2);
    this.busy(k.exit(rc, 0, this.at(this.t)));
    this.busy(k.switchTo(0, KERNEL_PID, this.at(this.t)));

    // Settled: a daemon wakes now and then.
    const live = k.livePids().filter((pid) => pid !== init);
    const wake = Number(p['wakeInterval']);
    if (live.length === 0 || !(wake > 0)) {
      this.at(this.durationNs + 1);
      return;
    }
    for (let i = 0; ; i++) {
      this.at(this.t + wake);
      const pid = live[i % live.length]!;
      this.busy(k.switchTo(0, pid, this.t));
      const l = k.layoutOf(pid);
      this.touch(pid, l.stackVpn + l.stackPages - 1, true);
      this.touch(pid, l.stackVpn + l.stackPages - 2, true);
      this.touch(pid, l.heapVpn + this.rng.below(4), true);
      this.touch(pid, l.textVpn + this.rng.below(l.textPages), false);
      this.busy(k.switchTo(0, KERNEL_PID, this.at(this.t)));
    }
  }

  /** exec of `image` by `pid` (running on vCPU 0), then the program's start-up. */
  private exec(pid: number, image: ProgramImage, heapWritten: number): void {
    const k = this.kernel;
    this.busy(k.switchTo(0, pid, this.at(this.t)));
    this.busy(k.exec(pid, 0, image, this.at(this.t)));
    this.readAhead(image);
    for (const lib of image.libraries) this.readAhead(lib);
    const l = k.layoutOf(pid);
    const rng = this.rng;
    // ld.so maps and relocates: a quarter of the text read, data and bss written.
    for (const seg of [l, ...l.libraries]) {
      for (let i = 0; i < Math.ceil(seg.textPages / 4); i++) this.touch(pid, seg.textVpn + rng.below(seg.textPages), false);
      for (let i = 0; i < seg.dataPages; i++) this.touch(pid, seg.dataVpn + i, true);
      for (let i = 0; i < seg.bssPages; i++) this.touch(pid, seg.bssVpn + i, true);
    }
    for (let i = 0; i < 6; i++) this.touch(pid, l.stackVpn + l.stackPages - 1 - i, true);
    for (let i = 0; i < Math.min(heapWritten, l.heapPages); i++) this.touch(pid, l.heapVpn + i, true);
  }

  /** The first exec of a program reads all of its file into the page cache (readahead). */
  private readAhead(lib: LibraryImage): void {
    if (this.cachedPrograms.has(lib.path)) return;
    this.cachedPrograms.add(lib.path);
    const k = this.kernel;
    const pages = lib.textPages + lib.dataPages;
    const file = k.openFile(lib.path, pages);
    for (let i = 0; i < pages; i++) {
      k.cacheFilePage(file, i, 0, this.at(this.t));
      this.busy(this.t + 2_000); // the disk DMA runs while the CPU waits; readahead overlaps most of it
    }
    this.pageCacheLeft -= pages;
  }

  /** `parent` forks; the child execs `image` and starts. Returns the child. */
  private forkExec(parent: number, image: ProgramImage, heapWritten: number): number {
    const k = this.kernel;
    this.busy(k.switchTo(0, parent, this.at(this.t)));
    const child = k.fork(parent, 0, this.at(this.t));
    this.busy(k.endNs);
    this.exec(child, image, heapWritten);
    return child;
  }

  /** A short-lived command: fork, exec, read a config file, exit; the shell waits for it. */
  private command(shell: number): void {
    const k = this.kernel;
    const image = COMMANDS[this.rng.below(COMMANDS.length)]!;
    const pid = this.forkExec(shell, image, 2);
    const l = k.layoutOf(pid);
    const file = k.openFile(`/etc/conf-${this.rng.below(40)}`, 1);
    this.busy(k.readFile(pid, 0, file, 0, l.heapVpn + 1, this.at(this.t)));
    this.busy(k.exit(pid, 0, this.at(this.t)));
    this.busy(k.switchTo(0, shell, this.at(this.t)));
    this.touch(shell, k.layoutOf(shell).heapVpn + this.rng.below(32), true);
  }

  /**
   * A daemon: the shell forks, the child execs it; the daemon forks again
   * and the first child exits (daemonising); the daemon initialises and
   * reads its data files.
   */
  private startDaemon(shell: number, d: DaemonProfile, daemonsLeft: number): void {
    const k = this.kernel;
    const first = this.forkExec(shell, d.image, 4);
    const pid = k.fork(first, 0, this.at(this.t));
    this.busy(k.endNs);
    this.busy(k.exit(first, 0, this.at(this.t)));
    this.busy(k.switchTo(0, pid, this.at(this.t)));
    const l = k.layoutOf(pid);
    for (let i = 0; i < Math.min(d.heapWritten, l.heapPages); i++) this.touch(pid, l.heapVpn + i, true);
    if (d.localePages > 0) {
      const archive = k.openFile('/usr/lib/locale/locale-archive', LOCALE_ARCHIVE_PAGES);
      const vpn = k.mapFile(pid, archive, 0, LOCALE_ARCHIVE_PAGES, false, false);
      for (let i = 0; i < d.localePages; i++) this.touch(pid, vpn + this.rng.below(LOCALE_ARCHIVE_PAGES), false);
    }
    // Its share of the data files read during boot.
    const pages = Math.max(0, Math.floor(this.pageCacheLeft / daemonsLeft));
    if (pages > 0) {
      const file = k.openFile(`/var/lib/data-${this.dataFiles++}`, pages);
      for (let i = 0; i < pages; i++) this.busy(k.readFile(pid, 0, file, i, l.heapVpn + Math.min(l.heapPages - 1, d.heapWritten), this.at(this.t)));
      this.pageCacheLeft -= pages;
    }
  }
}
