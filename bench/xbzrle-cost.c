// Times XBZRLE's per-page work on the migration thread, as ram.c
// save_xbzrle_page does it: copy the guest page to a staging buffer, encode
// it against the cached copy (runs of unchanged / changed bytes, lengths as
// ULEB128, changed bytes inline), copy the staging buffer back into the
// cache. Own implementation of the published algorithm (xbzrle.c's format),
// word-at-a-time scalar compare. Pages spread over 512 MiB (DRAM, as in a
// migration), touched in a shuffled order.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define PG 4096
static int uleb(uint8_t *d, uint32_t v){int n=0;do{uint8_t b=v&0x7f;v>>=7;if(v)b|=0x80;d[n++]=b;}while(v);return n;}
static int encode(const uint8_t *old,const uint8_t *new_,int slen,uint8_t *dst,int dlen){
  int i=0,d=0;
  while(i<slen){
    int zrun=0; // unchanged
    while(i<slen && ((i&7)||slen-i<8)==0 && *(const uint64_t*)(old+i)==*(const uint64_t*)(new_+i)){i+=8;zrun+=8;}
    while(i<slen && old[i]==new_[i]){i++;zrun++;}
    if(i==slen) break;
    if(d+5>dlen) return -1; d+=uleb(dst+d,zrun);
    int start=i,nz=0;
    while(i<slen && old[i]!=new_[i]){i++;nz++;}
    if(d+5+nz>dlen) return -1; d+=uleb(dst+d,nz); memcpy(dst+d,new_+start,nz); d+=nz;
  }
  return d;
}
static double now(){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(int argc,char**argv){
  size_t n=(512u<<20)/PG; int changed=argc>1?atoi(argv[1]):64, runs=argc>2?atoi(argv[2]):4;
  uint8_t *guest=aligned_alloc(64,n*PG),*cache=aligned_alloc(64,n*PG),*cur=aligned_alloc(64,PG),*enc=aligned_alloc(64,PG);
  for(size_t i=0;i<n*PG;i++){guest[i]=(uint8_t)(i*2654435761u>>13);} memcpy(cache,guest,n*PG);
  uint32_t *ord=malloc(n*4); for(size_t i=0;i<n;i++)ord[i]=i; srand(1); for(size_t i=n-1;i>0;i--){size_t j=rand()%(i+1);uint32_t t=ord[i];ord[i]=ord[j];ord[j]=t;}
  // change `changed` bytes per page in `runs` runs
  for(size_t p=0;p<n;p++) for(int r=0;r<runs;r++){size_t off=(size_t)r*(PG/runs); for(int b=0;b<changed/runs;b++) guest[p*PG+off+b]^=0x5a;}
  long total=0; double t0=now();
  for(size_t k=0;k<n;k++){size_t p=ord[k]; memcpy(cur,guest+p*PG,PG); int l=encode(cache+p*PG,cur,PG,enc,PG); total+=l; memcpy(cache+p*PG,cur,PG);}
  double t1=now();
  // miss path: cache_insert's copy
  double t2=now(); for(size_t k=0;k<n;k++){size_t p=ord[(k*7)%n]; memcpy(cache+p*PG,guest+p*PG,PG);} double t3=now();
  printf("changed %d runs %d: hit %.0f ns/page (encoded %ld B/page), insert %.0f ns/page\n",changed,runs,(t1-t0)/n,total/(long)n,(t3-t2)/n);
  return 0;
}
