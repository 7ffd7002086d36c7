export declare function markerNames(text: string): string[];
export declare function fillMarkers(text: string, fragments: Record<string, string>, label: string): string;
