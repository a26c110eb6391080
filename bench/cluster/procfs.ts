// What the kernel knows about the benchmark's processes and the machine: CPU seconds and peak RSS
// of a member (all its threads), and the machine's busy CPU time, so a report can show how much CPU
// went to processes other than ours during a round (other work on a shared box skews the numbers).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on Linux/x86). */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function statCpu(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // The command name may contain spaces and parens: fields are counted after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5); this array starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / clkTck();
}

/** User + system CPU seconds of a process, all its threads included (/proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/stat`);
}

/**
 * CPU seconds of the main thread alone. For a Node process that is the event loop: near 1 s per
 * second means the member is bound by its single JS thread, whatever the other cores do.
 */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/task/${pid}/stat`);
}

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Peak resident set size in bytes (VmHWM of /proc/<pid>/status). */
export function peakRssBytes(pid: number): number {
  return statusKb(pid, 'VmHWM');
}

/** Resident set size now, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  return statusKb(pid, 'VmRSS');
}

/**
 * CPU seconds all cores spent busy and idle since boot (/proc/stat; iowait counts as idle), and the
 * time the hypervisor gave our virtual CPUs to someone else (steal). These are tick samples while
 * a process's own times are exact, so differences between the two are good to ~10% only.
 */
export function machineCpu(): { busy: number; idle: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const t = clkTck();
  return { busy: (f[0] + f[1] + f[2] + f[5] + f[6]) / t, idle: (f[3] + f[4]) / t, steal: f[7] / t };
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
