/** The program version written into every trace header (kept equal to package.json by a test). */
export const PROGRAM_NAME = 'migsim';
export const PROGRAM_VERSION = '0.1.0';
