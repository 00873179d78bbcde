// undici compiles its HTTP/1 parser (llhttp, in WebAssembly) synchronously on its first request:
// ~0.1 s under qemu-user, on the pull's critical path. V8 keeps one compiled module per wire bytes
// while it is referenced, so compiling the same bytes earlier, in V8's background threads, leaves
// undici's own compile nothing to do (under qemu-user: 3 instead of 99 ms).
import llhttpSimdWireBytes from 'undici/lib/llhttp/llhttp_simd-wasm.js';

let compiled: Promise<WebAssembly.Module | undefined> | undefined;

/** Compiles undici's parser in the background, once; kept referenced so that V8 keeps it. Never fails (undici then compiles it itself). */
export function precompileHttpParser(): Promise<WebAssembly.Module | undefined> {
  compiled ??= WebAssembly.compile(llhttpSimdWireBytes).catch(() => undefined);
  return compiled;
}
