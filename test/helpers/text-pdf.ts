import { deflateSync } from 'node:zlib';

/**
 * A valid PDF of `pages` pages of plain prose in Helvetica (one of the 14 fonts a PDF need not
 * embed), each page's text in a deflated content stream: what a report generator or a LaTeX
 * document with standard fonts writes, about a kilobyte a page. Words come from a fixed list in
 * a seeded order, so the file is the same on every run.
 */
export function textPdf(pages: number, charsPerPage = 2_500): Buffer {
  const words = [
    'budget',
    'request',
    'token',
    'provider',
    'invoice',
    'model',
    'answer',
    'cache',
    'limit',
    'window',
    'price',
    'stream',
    'output',
    'input',
    'report',
    'usage',
    'gateway',
    'key',
    'reservation',
    'settle',
    'context',
    'page',
    'document',
    'monthly',
    'daily',
    'team',
    'tool',
  ];
  let seed = 7;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  const objects: string[] = [];
  const add = (body: string) => objects.push(body) + 2; // objects 1 and 2 are the catalog and the page tree
  const font = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  const kids: number[] = [];
  for (let p = 0; p < pages; p++) {
    const lines: string[] = [];
    let line = '';
    let chars = 0;
    while (chars < charsPerPage) {
      const word = words[next() % words.length] as string;
      if (line.length + word.length > 90) {
        lines.push(line);
        line = '';
      }
      line += `${word} `;
      chars += word.length + 1;
    }
    lines.push(line);
    const text = lines.map((l, i) => `BT /F1 10 Tf 40 ${800 - i * 12} Td (${l}) Tj ET`).join('\n');
    const stream = deflateSync(Buffer.from(text, 'latin1')).toString('latin1');
    const content = add(`<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n${stream}\nendstream`);
    kids.push(
      add(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${content} 0 R >>`,
      ),
    );
  }
  const all = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${pages} >>`,
    ...objects,
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  all.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${all.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${all.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
