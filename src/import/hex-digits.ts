/** Hex digit values by byte, -1 for anything else: the capture parsers' digit table. */
export const HEX_DIGIT_VALUES = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX_DIGIT_VALUES[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_DIGIT_VALUES[0x61 + c] = 10 + c;
  HEX_DIGIT_VALUES[0x41 + c] = 10 + c;
}
