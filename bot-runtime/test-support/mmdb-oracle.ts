// IntelMQ's side of the database experts' differential tests: its expert bots run in library mode on
// the same database files and events, and Python's maxminddb reading the databases the tests write.
import { type CaseOutcome, type ExpertOutcomeCase, intelmqExpertOutcomes } from "./intelmq-oracle.ts";
import { runOracle } from "./python-oracle.ts";

/**
 * Runs each case through IntelMQ's expert, input by input (see intelmqExpertOutcomes); a bot is built
 * once per module and parameters and kept, as opening a database is slow.
 */
export function intelmqExpert(cases: readonly ExpertOutcomeCase[]): Promise<CaseOutcome[]> {
  return intelmqExpertOutcomes(cases.map((c) => ({ ...c, reuseBot: true })));
}

// One database per line: {file, mode, addresses}; prints [record, prefix length] per address, with
// bytes as lists of numbers and big integers as strings (JSON cannot hold them).
const MAXMINDDB_DRIVER = `
import json, os, sys
import maxminddb
def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value
for line in sys.stdin:
    case = json.loads(line)
    mode = getattr(maxminddb, case["mode"])
    with maxminddb.open_database(case["file"], mode) as reader:
        meta = reader.metadata()
        out = {"metadata": {"database_type": meta.database_type, "ip_version": meta.ip_version,
                            "record_size": meta.record_size, "node_count": meta.node_count,
                            "languages": meta.languages, "description": meta.description,
                            "build_epoch": meta.build_epoch},
               "lookups": []}
        for address in case["addresses"]:
            record, prefix_len = reader.get_with_prefix_len(address)
            out["lookups"].append([plain(record), prefix_len])
    print(json.dumps(out))
sys.stdout.flush()
os._exit(0)
`;

export interface MaxminddbRead {
  metadata: Record<string, unknown>;
  lookups: Array<[unknown, number]>;
}

/** Reads `addresses` from each file with Python's maxminddb (MODE_MMAP_EXT: libmaxminddb; MODE_FILE: pure Python). */
export function maxminddbRead(
  cases: ReadonlyArray<{ file: string; mode: "MODE_MMAP_EXT" | "MODE_FILE"; addresses: readonly string[] }>,
): Promise<MaxminddbRead[]> {
  return runOracle(MAXMINDDB_DRIVER, cases);
}
