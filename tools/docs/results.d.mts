export declare const RESULT_FILES: Record<"latest" | "before" | "rerun" | "runtimes" | "variants", string>;
export declare function readResults(root: string): any;
