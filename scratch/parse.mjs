export default function ({ json }) { return JSON.parse(json).length; }
