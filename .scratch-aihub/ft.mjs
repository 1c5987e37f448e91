import { fileTypeFromBuffer } from 'file-type';
import { makeZip } from '/work/main/dist/devtools/generate.js';
const ct = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`;
const z1 = makeZip([{name:'[Content_Types].xml', data: Buffer.from(ct), deflate:true},{name:'_rels/.rels',data:Buffer.from('<Relationships/>'),deflate:true},{name:'word/document.xml',data:Buffer.from('<w:document/>'),deflate:true}]);
console.log('ct first deflated', await fileTypeFromBuffer(z1));
const z2 = makeZip([{name:'_rels/.rels',data:Buffer.from('<Relationships/>')},{name:'word/document.xml',data:Buffer.from('<w:document/>')},{name:'[Content_Types].xml', data: Buffer.from(ct)}]);
console.log('ct last stored', await fileTypeFromBuffer(z2));
const z3 = makeZip([{name:'word/media/image1.png',data:Buffer.alloc(100000, 7)},{name:'[Content_Types].xml', data: Buffer.from(ct)}]);
console.log('big first', await fileTypeFromBuffer(z3.subarray(0, 65536)));
