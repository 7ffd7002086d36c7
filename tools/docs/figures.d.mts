// Types of figures.mjs for the tests (the generator is plain JS so `npm run docs:figures` needs no build).
export declare const ROOT: string;
export declare const DOC_FILES: string[];
export declare function allFragments(results: unknown, root?: string): Record<string, string>;
export declare function generatedDocs(root?: string): (readonly [string, string, string])[];
