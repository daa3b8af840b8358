import { createPublicKey, type JsonWebKeyInput } from "node:crypto";

/**
 * Why a key published in a JWKS must not verify anything, or undefined when it may. Done by hand
 * because neither jose nor Node refuses these: an RSA public exponent of 1 makes every message its
 * own signature (anyone can forge), an even or tiny one is broken too, a modulus under 2048 bits is
 * factorable, and a ROCA modulus (Infineon's 2017 key generator) can be factored from the public
 * key alone. A key Node cannot import (an EC point off its curve) is refused as well, rather than
 * failing each token that names it as if the IdP were down.
 */
export function keyWeakness(jwk: unknown): string | undefined {
  if (typeof jwk !== "object" || jwk === null) return "not a key";
  const kty = (jwk as { kty?: unknown }).kty;
  if (kty !== "RSA" && kty !== "EC" && kty !== "OKP") return "not an asymmetric key";
  let key;
  try {
    key = createPublicKey({ key: jwk as JsonWebKeyInput["key"], format: "jwk" });
  } catch {
    return "not a valid public key";
  }
  if (kty !== "RSA") return undefined;
  const details = key.asymmetricKeyDetails ?? {};
  const exponent = details.publicExponent ?? 0n;
  if (exponent < 3n || exponent % 2n === 0n) return "weak RSA public exponent";
  if ((details.modulusLength ?? 0) < 2048) return "RSA modulus shorter than 2048 bits";
  const n = BigInt(`0x${Buffer.from(String((jwk as { n?: unknown }).n), "base64url").toString("hex") || "0"}`);
  if (isRocaModulus(n)) return "RSA modulus from the ROCA-vulnerable generator";
  return undefined;
}

/**
 * The ROCA fingerprint (Nemec et al., CCS 2017): the vulnerable generator makes primes of the form
 * k·M + (65537^a mod M), M a primorial, so the modulus modulo each small prime p lies in the
 * subgroup 65537 generates mod p. A random modulus does so for all 38 primes with negligible
 * probability.
 */
const ROCA_PRIMES = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167];
const ROCA_SUBGROUPS = ROCA_PRIMES.map((p) => {
  const members = new Set<number>();
  for (let value = 1; !members.has(value); value = (value * (65537 % p)) % p) members.add(value);
  return members;
});

export function isRocaModulus(n: bigint): boolean {
  if (n <= 0n) return false;
  return ROCA_PRIMES.every((p, i) => ROCA_SUBGROUPS[i]!.has(Number(n % BigInt(p))));
}
