// A pickle VM for the subset of opcodes torch.save emits (protocols 2–4). Objects it does not
// model become { __global__: 'module.name', args, state } records for the caller to interpret.
export interface PyGlobal { __global__: string }
export interface PyCall { __call__: string; args: unknown[]; state?: unknown }

export function isCall(v: unknown, name?: string): v is PyCall {
  return typeof v === 'object' && v !== null && '__call__' in v && (name === undefined || (v as PyCall).__call__ === name);
}

export function unpickle(buf: Buffer, persistentLoad: (pid: unknown) => unknown, what: string): unknown {
  return unpickleAt(buf, persistentLoad, what).value;
}

/** Runs one pickle from the start of `buf`; `end` is the offset just past its STOP opcode. */
export function unpickleAt(buf: Buffer, persistentLoad: (pid: unknown) => unknown, what: string): { value: unknown; end: number } {
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const popMark = () => { const m = marks.pop()!; return stack.splice(m); };
  const fail = (msg: string): never => { throw new Error(`${what}: ${msg} at byte ${p}`); };
  const need = (n: number) => { if (p + n > buf.length) fail('pickle data is truncated'); };
  const u8 = () => { need(1); return buf[p++]; };
  const u16 = () => { need(2); const v = buf.readUInt16LE(p); p += 2; return v; };
  const u32 = () => { need(4); const v = buf.readUInt32LE(p); p += 4; return v; };
  const bytes = (n: number) => { need(n); const v = buf.subarray(p, p + n); p += n; return v; };
  const line = () => { const e = buf.indexOf(0x0a, p); if (e < 0) fail('unterminated text'); const s = buf.subarray(p, e).toString('latin1'); p = e + 1; return s; };
  const setItems = (d: unknown, items: unknown[]) => {
    if (d instanceof Map) for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
    else if (isCall(d)) { (d as PyCall & { items?: unknown[] }).items = [...((d as { items?: unknown[] }).items ?? []), ...items]; }
    else fail('SETITEMS on a non-dict');
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break;                                       // PROTO
      case 0x95: p += 8; break;                                     // FRAME
      case 0x2e: return { value: stack.pop(), end: p };              // STOP
      case 0x28: marks.push(stack.length); break;                   // MARK
      case 0x7d: stack.push(new Map()); break;                      // EMPTY_DICT
      case 0x5d: stack.push([]); break;                             // EMPTY_LIST
      case 0x29: stack.push([]); break;                             // EMPTY_TUPLE
      case 0x8f: stack.push(new Set()); break;                      // EMPTY_SET
      case 0x74: stack.push(popMark()); break;                      // TUPLE
      case 0x85: stack.push(stack.splice(-1)); break;               // TUPLE1
      case 0x86: stack.push(stack.splice(-2)); break;               // TUPLE2
      case 0x87: stack.push(stack.splice(-3)); break;               // TUPLE3
      case 0x71: memo.set(u8(), stack[stack.length - 1]); break;    // BINPUT
      case 0x72: memo.set(u32(), stack[stack.length - 1]); break;   // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack[stack.length - 1]); break; // MEMOIZE
      case 0x68: stack.push(memo.get(u8())); break;                 // BINGET
      case 0x6a: stack.push(memo.get(u32())); break;                // LONG_BINGET
      case 0x58: stack.push(bytes(u32()).toString('utf8')); break;  // BINUNICODE
      case 0x8c: stack.push(bytes(u8()).toString('utf8')); break;   // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(buf.readBigUInt64LE(p)); p += 8; stack.push(bytes(n).toString('utf8')); break; }
      case 0x54: stack.push(bytes(u32()).toString('latin1')); break; // BINSTRING
      case 0x55: stack.push(bytes(u8()).toString('latin1')); break; // SHORT_BINSTRING
      case 0x42: stack.push(Buffer.from(bytes(u32()))); break;      // BINBYTES
      case 0x43: stack.push(Buffer.from(bytes(u8()))); break;       // SHORT_BINBYTES
      case 0x4a: { need(4); stack.push(buf.readInt32LE(p)); p += 4; break; } // BININT
      case 0x4b: stack.push(u8()); break;                           // BININT1
      case 0x4d: stack.push(u16()); break;                          // BININT2
      case 0x8a: {                                                  // LONG1
        const n = u8(); const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v)); break;
      }
      case 0x49: { const s = line(); stack.push(s === '01' ? true : s === '00' ? false : Number(s)); break; } // INT
      case 0x4c: stack.push(Number(line().replace(/L$/, ''))); break; // LONG
      case 0x47: { need(8); stack.push(buf.readDoubleBE(p)); p += 8; break; } // BINFLOAT
      case 0x4e: stack.push(null); break;                           // NONE
      case 0x88: stack.push(true); break;                           // NEWTRUE
      case 0x89: stack.push(false); break;                          // NEWFALSE
      case 0x63: { const mod = line(), name = line(); stack.push({ __global__: `${mod}.${name}` }); break; } // GLOBAL
      case 0x93: { const name = stack.pop(), mod = stack.pop(); stack.push({ __global__: `${mod}.${name}` }); break; } // STACK_GLOBAL
      case 0x52: case 0x81: {                                       // REDUCE, NEWOBJ
        const args = stack.pop() as unknown[], fn = stack.pop() as PyGlobal;
        if (!fn || typeof fn !== 'object' || !('__global__' in fn)) fail('call of a non-global');
        stack.push(fn.__global__ === 'collections.OrderedDict' ? new Map() : { __call__: fn.__global__, args });
        break;
      }
      case 0x62: {                                                  // BUILD
        const state = stack.pop(), obj = stack[stack.length - 1];
        if (isCall(obj)) obj.state = state;                         // OrderedDict._metadata etc. are ignored
        break;
      }
      case 0x73: { const v = stack.pop(), k = stack.pop(); setItems(stack[stack.length - 1], [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(stack[stack.length - 1], items); break; } // SETITEMS
      case 0x61: { const v = stack.pop(); (stack[stack.length - 1] as unknown[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); (stack[stack.length - 1] as unknown[]).push(...items); break; } // APPENDS
      case 0x90: { const items = popMark(); for (const i of items) (stack[stack.length - 1] as Set<unknown>).add(i); break; } // ADDITEMS
      case 0x91: stack.push(new Set(popMark())); break;             // FROZENSET
      case 0x51: stack.push(persistentLoad(stack.pop())); break;    // BINPERSID
      case 0x30: stack.pop(); break;                                // POP
      case 0x31: popMark(); break;                                  // POP_MARK
      case 0x32: stack.push(stack[stack.length - 1]); break;        // DUP
      default: fail(`unsupported pickle opcode 0x${op.toString(16)}`);
    }
  }
}
