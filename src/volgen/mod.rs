//! Volfiles: the xlator graphs glusterd 10.3 writes for a volume (brick and client). Pure: model
//! in, text out.
