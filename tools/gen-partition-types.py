#!/usr/bin/env python3
"""Regenerate src/gpt/type-table.ts from ../shared/spec/partition-types.json."""
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '../../shared/spec/partition-types.json')
d = json.load(open(src))
out = ['// Generated from shared/spec/partition-types.json (systemd sd-gpt.h table order: the first entry',
       '// with a UUID is its canonical name). Regenerate with tools/gen-partition-types.py.',
       "export type PartitionRole = 'root' | 'root-verity' | 'root-verity-sig' | 'usr' | 'usr-verity' | 'usr-verity-sig' | 'esp' | 'xbootldr' | 'swap' | 'home' | 'srv' | 'var' | 'tmp' | 'user-home' | 'linux-generic';",
       '/** [name, uuid, arch (null: architecture-independent), role] */',
       'export const PARTITION_TYPE_TABLE: ReadonlyArray<readonly [string, string, string | null, PartitionRole]> = [']
for x in d:
    a = 'null' if x['arch'] is None else "'%s'" % x['arch']
    out.append("  ['%s', '%s', %s, '%s']," % (x['name'], x['uuid'], a, x['role']))
out.append('];')
open(os.path.join(here, '../src/gpt/type-table.ts'), 'w').write('\n'.join(out) + '\n')
