// `petrelctl asn convert RIB-FILE -o FILE`: turns a BGP RIB dump (MRT TABLE_DUMP_V2, as RouteViews
// publishes them, bzip2- or gzip-compressed or not) into the ipasn file the asn_lookup expert reads —
// what IntelMQ's `asn_lookup.expert --update-database` (and pyasn_util_convert.py) make of the same
// dump. The file is written whole and then renamed into place, so a bot watching it never reads half a
// file. Exit 0: written; 1: the dump could not be read or held no routes (the old file stays).
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { Command } from "commander";
import { ipasnHeader } from "../../../bots/experts/asn-lookup/ipasn.ts";
import { convertRib, type RibConversion, ribFileChunks } from "../../../bots/experts/asn-lookup/mrt.ts";

export class AsnCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AsnCommandError";
  }
}

export interface ConvertResult {
  readonly ipv4: number;
  readonly ipv6: number;
  readonly conversion: RibConversion;
}

/** The ipasn text for a conversion, as pyasn's converter writes it. */
export function ipasnText(conversion: RibConversion, source: string, converted: Date): string {
  let ipv6 = 0;
  for (const prefix of conversion.prefixes.keys()) if (prefix.includes(":")) ipv6++;
  const lines = [ipasnHeader(source, conversion.prefixes.size - ipv6, ipv6, converted)];
  for (const [prefix, asn] of conversion.prefixes) lines.push(`${prefix}\t${asn}\n`);
  return lines.join("");
}

/** Converts `input` into the ipasn file `output` (gzip-compressed when its name ends in .gz). */
export async function convertRibFile(
  input: string,
  output: string,
  options: { source?: string; now?: Date } = {},
): Promise<ConvertResult> {
  let conversion: RibConversion;
  try {
    conversion = await convertRib(ribFileChunks(input));
  } catch (error) {
    throw new AsnCommandError(`${input}: ${(error as Error).message}`);
  }
  if (conversion.prefixes.size === 0) {
    throw new AsnCommandError(
      `${input}: no routes found (${conversion.records} MRT records); nothing written`,
    );
  }
  const text = ipasnText(conversion, options.source ?? input, options.now ?? new Date());
  const data = output.endsWith(".gz") ? await promisify(gzip)(text) : text;
  const target = resolve(output);
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(temporary, data);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new AsnCommandError(`cannot write ${output}: ${(error as Error).message}`);
  }
  let ipv6 = 0;
  for (const prefix of conversion.prefixes.keys()) if (prefix.includes(":")) ipv6++;
  return { ipv4: conversion.prefixes.size - ipv6, ipv6, conversion };
}

export function registerAsnCommands(program: Command): void {
  const asn = program.command("asn").description("Data for the asn_lookup expert");
  asn
    .command("convert")
    .description(
      "Convert a BGP RIB dump (MRT, e.g. RouteViews' rib.YYYYMMDD.HHMM.bz2) into the ipasn file experts.asn_lookup reads (IntelMQ's --update-database, pyasn_util_convert.py)",
    )
    .argument("<rib-file>", "the MRT RIB dump; bzip2, gzip or uncompressed")
    .requiredOption("-o, --output <file>", "the ipasn file to write (gzip-compressed if it ends in .gz)")
    .action(async (ribFile: string, flags: { output: string }) => {
      try {
        const started = Date.now();
        const { ipv4, ipv6, conversion } = await convertRibFile(ribFile, flags.output);
        console.log(
          `${flags.output}: ${ipv4} IPv4 and ${ipv6} IPv6 prefixes written from ${conversion.records} MRT records in ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        if (conversion.skippedCount > 0) {
          const routes = conversion.skippedCount === 1 ? "route" : "routes";
          console.error(
            `${conversion.skippedCount} ${routes} skipped (no origin AS could be taken from them):`,
          );
          for (const { prefix, reason } of conversion.skipped) console.error(`  ${prefix}: ${reason}`);
          if (conversion.skippedCount > conversion.skipped.length) {
            console.error(`  … and ${conversion.skippedCount - conversion.skipped.length} more`);
          }
        }
        for (const [kind, count] of conversion.ignored) {
          console.error(`${count} ${kind} record${count === 1 ? "" : "s"} ignored (no unicast routes)`);
        }
      } catch (error) {
        if (!(error instanceof AsnCommandError)) throw error;
        console.error(`petrelctl asn convert: ${error.message}`);
        console.error(`${flags.output} was not changed.`);
        process.exitCode = 1;
      }
    });
}
