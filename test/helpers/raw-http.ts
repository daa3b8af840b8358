import { connect } from "node:net";

/** Sends bytes exactly as given (fetch would normalise them) and returns the status and raw answer. */
export function rawRequest(baseUrl: string, request: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    // latin1: each character of the string is one byte on the wire, exactly as given.
    const socket = connect(Number(port), hostname, () => socket.write(request, "latin1"));
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const end = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (end !== -1 && length !== undefined && text.length >= end + 4 + Number(length)) socket.end();
    });
    socket.setTimeout(5000, () => reject(new Error("no answer within 5 s")));
    socket.on("error", reject);
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
  });
}
